import { describe, expect, it } from "vitest";
import { addressKey, domainToAscii, formatAddress, parseAddress, parseAddressList, splitAddressList } from "./addresses";

describe("splitAddressList", () => {
  it("splits on commas, semicolons and line breaks outside quotes and angle brackets", () => {
    expect(splitAddressList('a@x.kr, "Kim, Jane" <jane@x.kr>; b@y.kr\n<c@z.kr>,, ')).toEqual([
      "a@x.kr",
      '"Kim, Jane" <jane@x.kr>',
      "b@y.kr",
      "<c@z.kr>",
    ]);
  });

  it("keeps escaped quotes inside a quoted name", () => {
    expect(splitAddressList('"A \\"B\\", C" <a@x.kr>, d@x.kr')).toEqual(['"A \\"B\\", C" <a@x.kr>', "d@x.kr"]);
  });
});

describe("parseAddress", () => {
  it.each([
    ["bob@example.com", "", "bob@example.com"],
    ["  <bob@example.com> ", "", "bob@example.com"],
    ["Bob Lee <bob@example.com>", "Bob Lee", "bob@example.com"],
    ['"Lee, Bob" <bob@example.com>', "Lee, Bob", "bob@example.com"],
    ['"A \\"Q\\"" <q@example.com>', 'A "Q"', "q@example.com"],
    ["김철수 <kim@회사.한국>", "김철수", "kim@회사.한국"],
    ["dave@Bücher.example", "", "dave@Bücher.example"],
    ["用户@例子.广告", "", "用户@例子.广告"],
    ["o'brien+tag@sub.example.co.kr", "", "o'brien+tag@sub.example.co.kr"],
  ])("accepts %s", (raw, name, address) => {
    expect(parseAddress(raw)).toEqual({ raw: raw.trim(), name, address, problem: null });
  });

  it.each([
    ["", "empty"],
    ["<>", "empty"],
    ["bob", "noAt"],
    ["bob at example.com", "noAt"],
    ["@example.com", "local"],
    ["bob smith@example.com", "local"],
    ["bob..x@example.com", "local"],
    ["bob@", "domain"],
    ["bob@exa_mple.com", "domain"],
    ["bob@-example.com", "domain"],
    ["bob@example.com.", "domain"],
    ["bob@[127.0.0.1]", "domain"],
    ["Bob <bob@example.com\r\nBcc: x@evil.test>", "control"],
    [`${"a".repeat(65)}@example.com`, "tooLong"],
  ] as const)("refuses %j as %s", (raw, problem) => {
    expect(parseAddress(raw).problem).toBe(problem);
  });

  it("refuses a display name with a line break (header injection)", () => {
    expect(parseAddress("Bob\nBcc: x@evil.test <bob@example.com>").problem).not.toBeNull();
  });
});

describe("IDN and comparison", () => {
  it("turns Unicode domains into A-labels like the server", () => {
    expect(domainToAscii("Bücher.example")).toBe("xn--bcher-kva.example");
    expect(domainToAscii("회사.한국")).toBe("xn--vf4b131b.xn--3e0b707e");
    expect(domainToAscii("EXAMPLE.com")).toBe("example.com");
    expect(domainToAscii("a..b")).toBeNull();
  });

  it("compares addresses case-insensitively and across U-/A-labels", () => {
    expect(addressKey("Dave@Bücher.Example")).toBe(addressKey("dave@xn--bcher-kva.example"));
    expect(addressKey("Alice@Example.com")).toBe("alice@example.com");
  });
});

describe("formatAddress", () => {
  it("quotes display names so commas and quotes survive the API", () => {
    expect(formatAddress({ name: "", address: "a@x.kr" })).toBe("a@x.kr");
    expect(formatAddress({ name: 'Lee, "Bob"', address: "b@x.kr" })).toBe('"Lee, \\"Bob\\"" <b@x.kr>');
    const round = parseAddress(formatAddress({ name: 'Lee, "Bob"', address: "b@x.kr" }));
    expect(round).toMatchObject({ name: 'Lee, "Bob"', address: "b@x.kr", problem: null });
  });

  it("parses a pasted list into one entry per address, marking the bad ones", () => {
    const parsed = parseAddressList("a@x.kr, nope, 김 <k@x.kr>");
    expect(parsed.map((p) => [p.address, p.problem])).toEqual([
      ["a@x.kr", null],
      ["nope", "noAt"],
      ["k@x.kr", null],
    ]);
  });
});
