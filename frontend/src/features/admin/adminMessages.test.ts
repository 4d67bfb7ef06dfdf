import { describe, expect, it } from "vitest";
import { en, ko, makeAdminT } from "./adminMessages";

describe("admin console strings", () => {
  it("has every key in both languages, none empty, with the same placeholders", () => {
    expect(Object.keys(ko).sort()).toEqual(Object.keys(en).sort());
    const holes = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(en[key]).not.toBe("");
      expect(ko[key]).not.toBe("");
      expect(holes(ko[key]), key).toEqual(holes(en[key]));
    }
  });

  it("fills placeholders in the chosen language", () => {
    expect(makeAdminT("en")("dom.added", { name: "example.com" })).toBe("Domain example.com added.");
    expect(makeAdminT("ko")("dom.added", { name: "example.com" })).toBe("example.com 도메인을 추가했습니다.");
  });
});
