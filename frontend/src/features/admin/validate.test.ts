import { describe, expect, it } from "vitest";
import { adminPath, parseAdminPath } from "./adminPath";
import { checkAddress, checkDomainName, checkNetwork, checkPassword, checkSource, parseTargets } from "./validate";

describe("form checks", () => {
  it("accepts domain names (also Korean IDN) and refuses junk", () => {
    expect(checkDomainName("example.com")).toBeNull();
    expect(checkDomainName("메일.한국")).toBeNull();
    expect(checkDomainName("")).toBe("err.required");
    for (const bad of ["localhost", "-a.com", "a..com", "exa mple.com", "a_b.com"]) expect(checkDomainName(bad), bad).toBe("err.domainName");
  });

  it("checks addresses and alias sources (with @domain catch-all)", () => {
    expect(checkAddress("ann@example.com")).toBeNull();
    expect(checkAddress("ann")).toBe("err.address");
    expect(checkAddress("a b@example.com")).toBe("err.address");
    expect(checkSource("@example.com")).toBeNull();
    expect(checkSource("@nodot")).toBe("err.source");
  });

  it("parses several targets and names the bad one", () => {
    expect(parseTargets("a@x.com, b@y.org\nA@x.com").targets).toEqual(["a@x.com", "b@y.org"]);
    expect(parseTargets(" ").error).toBe("err.targets");
    const bad = parseTargets("a@x.com, oops");
    expect(bad.error).toBe("err.target");
    expect(bad.bad).toBe("oops");
    expect(parseTargets(Array.from({ length: 51 }, (_, i) => `u${i}@x.com`).join(",")).error).toBe("err.tooMany");
  });

  it("checks networks", () => {
    for (const ok of ["192.0.2.1", "192.0.2.0/24", "10.0.0.0/8", "2001:db8::/48", "::1"]) expect(checkNetwork(ok), ok).toBeNull();
    for (const bad of ["", "300.1.1.1", "192.0.2.0/33", "example.com", "1.2.3.4/24/1", "2001:db8::/129"]) expect(checkNetwork(bad), bad).not.toBeNull();
  });

  it("checks passwords (optional on create)", () => {
    expect(checkPassword("", true)).toBeNull();
    expect(checkPassword("", false)).toBe("err.required");
    expect(checkPassword("short", true)).toBe("err.password");
    expect(checkPassword("long enough", false)).toBeNull();
  });
});

describe("console paths", () => {
  it("parses and prints every page", () => {
    const cases: [string, ReturnType<typeof parseAdminPath>][] = [
      ["", { page: "dashboard" }],
      ["domains", { page: "domains", name: null }],
      ["domains/Example.COM", { page: "domains", name: "example.com" }],
      ["accounts/12", { page: "accounts", id: 12 }],
      ["aliases", { page: "aliases" }],
      ["relay", { page: "relay" }],
      ["queue/ABC123.x", { page: "queue", id: "ABC123.x" }],
      ["log", { page: "log" }],
      ["audit", { page: "audit" }],
    ];
    for (const [path, page] of cases) {
      expect(parseAdminPath(path), path).toEqual(page);
      expect(parseAdminPath(adminPath(page))).toEqual(page);
    }
  });

  it("sends anything else to not found", () => {
    for (const path of ["nope", "accounts/0", "accounts/x", "aliases/3", "domains/a/b", "queue/%E0%A4%A", "queue/a b"]) {
      expect(parseAdminPath(path), path).toEqual({ page: "unknown" });
    }
  });
});
