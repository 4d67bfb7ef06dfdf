import { describe, expect, it } from "vitest";
import { nearEnd, scrollToReveal, visibleWindow } from "./virtualWindow";

describe("visibleWindow", () => {
  it("renders only the rows in view plus overscan at the top", () => {
    expect(visibleWindow(0, 500, 50, 100_000, 5)).toEqual({ start: 0, end: 16, offset: 0, total: 5_000_000 });
  });

  it("stays small and exact deep in a 100 000-row list", () => {
    const w = visibleWindow(2_500_025, 500, 50, 100_000, 5);
    expect(w.start).toBe(50_000 - 5);
    expect(w.end).toBe(50_000 + 11 + 5);
    expect(w.offset).toBe(w.start * 50);
    expect(w.end - w.start).toBeLessThan(30);
  });

  it("clamps a scroll position past the end (list shrank) and before the start", () => {
    const w = visibleWindow(10_000, 500, 50, 20, 2);
    expect(w.end).toBe(20);
    expect(w.start).toBe(8);
    expect(visibleWindow(-300, 500, 50, 20, 2).start).toBe(0);
  });

  it("handles an empty list and a zero-height viewport", () => {
    expect(visibleWindow(0, 500, 50, 0)).toEqual({ start: 0, end: 0, offset: 0, total: 0 });
    const w = visibleWindow(0, 0, 50, 10, 0);
    expect(w.end - w.start).toBe(1);
  });
});

describe("scrollToReveal", () => {
  it("scrolls up or down only as far as needed", () => {
    expect(scrollToReveal(2, 500, 300, 50)).toBe(100);
    expect(scrollToReveal(20, 0, 300, 50)).toBe(750);
    expect(scrollToReveal(3, 100, 300, 50)).toBe(100);
  });
});

describe("nearEnd", () => {
  it("asks for the next page when the window approaches the last loaded row", () => {
    expect(nearEnd({ start: 0, end: 30, offset: 0, total: 0 }, 100)).toBe(false);
    expect(nearEnd({ start: 60, end: 85, offset: 0, total: 0 }, 100)).toBe(true);
  });
});
