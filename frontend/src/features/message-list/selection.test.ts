import { describe, expect, it } from "vitest";
import { EMPTY_SELECTION, allState, prune, selectAll, toggleOne, toggleRange } from "./selection";

const order = [10, 9, 8, 7, 6, 5];
const ids = (s: { ids: ReadonlySet<number> }) => [...s.ids].sort((a, b) => b - a);

describe("selection", () => {
  it("toggles one row and remembers it as the anchor", () => {
    const s = toggleOne(EMPTY_SELECTION, 9);
    expect(ids(s)).toEqual([9]);
    expect(s.anchor).toBe(9);
    expect(ids(toggleOne(s, 9))).toEqual([]);
  });

  it("shift-selects the range from the anchor, either direction", () => {
    const down = toggleRange(toggleOne(EMPTY_SELECTION, 9), order, 6);
    expect(ids(down)).toEqual([9, 8, 7, 6]);
    const up = toggleRange(toggleOne(EMPTY_SELECTION, 6), order, 9);
    expect(ids(up)).toEqual([9, 8, 7, 6]);
  });

  it("shift-clicking a selected row clears the range", () => {
    const s = toggleRange(toggleOne(EMPTY_SELECTION, 10), order, 7);
    // The anchor is now 7: shift-clicking the selected 8 clears 7..8 and keeps 10, 9.
    expect(ids(toggleRange(s, order, 8))).toEqual([10, 9]);
  });

  it("without an anchor, shift-click toggles one row", () => {
    expect(ids(toggleRange(EMPTY_SELECTION, order, 8))).toEqual([8]);
  });

  it("selects all loaded rows and reports none/some/all", () => {
    expect(allState(selectAll(order), order)).toBe("all");
    expect(allState(toggleOne(EMPTY_SELECTION, 5), order)).toBe("some");
    expect(allState(EMPTY_SELECTION, order)).toBe("none");
    expect(allState(selectAll([]), [])).toBe("none");
  });

  it("prunes rows that left the list", () => {
    const s = prune(toggleRange(toggleOne(EMPTY_SELECTION, 10), order, 8), [10, 7]);
    expect(ids(s)).toEqual([10]);
    expect(s.anchor).toBeNull();
    const same = selectAll([1, 2]);
    expect(prune(same, [1, 2])).toBe(same);
  });
});
