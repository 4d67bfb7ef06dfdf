import { describe, expect, it } from "vitest";
import { bytesToMb, MB, mbToBytes, usagePercent } from "./quota";

describe("quota MB ↔ bytes", () => {
  it("turns bytes into MB for the form, 0 meaning unlimited", () => {
    expect(bytesToMb(0)).toBe("0");
    expect(bytesToMb(1024 * MB)).toBe("1024");
    expect(bytesToMb(1.5 * MB)).toBe("1.5");
    expect(bytesToMb(123456789)).toBe("117.74");
    expect(bytesToMb(-5)).toBe("0");
  });

  it("turns typed MB into bytes, refusing junk", () => {
    expect(mbToBytes("0")).toBe(0);
    expect(mbToBytes(" 2048 ")).toBe(2048 * MB);
    expect(mbToBytes("1.5")).toBe(1.5 * MB);
    expect(mbToBytes("1,5")).toBe(1.5 * MB);
    for (const bad of ["", "-1", "abc", "1e3", "1.234", "12MB", "99999999999"]) expect(mbToBytes(bad), bad).toBeNull();
  });

  it("round-trips what the form shows", () => {
    for (const bytes of [0, MB, 250 * MB, 10 * 1024 * MB]) expect(mbToBytes(bytesToMb(bytes))).toBe(bytes);
  });

  it("computes the usage bar's percentage", () => {
    expect(usagePercent(50, 100)).toBe(50);
    expect(usagePercent(500, 100)).toBe(100);
    expect(usagePercent(500, 0)).toBe(0);
  });
});
