import { describe, expect, it } from "vitest";
import { listItem } from "../../test/fixtures";
import { initialList, listReducer, type ListState } from "./listState";

const row = (id: number, uid: number, folder = 1) => listItem({ id, uid, folder });

function loaded(done = false): ListState {
  return listReducer(initialList("folder:1"), {
    type: "page",
    key: "folder:1",
    items: [row(30, 30), row(20, 20), row(10, 10)],
    cursor: done ? null : "c1",
    append: false,
  });
}

const ids = (s: ListState) => s.items.map((m) => m.id);

describe("listReducer", () => {
  it("appends the next page and drops rows a live insert already brought", () => {
    const s = listReducer(loaded(), { type: "page", key: "folder:1", items: [row(10, 10), row(5, 5)], cursor: null, append: true });
    expect(ids(s)).toEqual([30, 20, 10, 5]);
    expect(s.done).toBe(true);
  });

  it("ignores a page or an error that arrives for a list no longer shown", () => {
    const s = loaded();
    expect(listReducer(s, { type: "page", key: "folder:2", items: [row(1, 1)], cursor: null, append: false })).toBe(s);
    expect(listReducer(s, { type: "error", key: "folder:2", error: new Error("x") })).toBe(s);
  });

  it("puts new mail at the top, in UID order, once", () => {
    const s = listReducer(loaded(), { type: "upsert", items: [row(41, 41), row(40, 35), row(30, 30)], folderId: 1 });
    expect(ids(s)).toEqual([41, 40, 30, 20, 10]);
  });

  it("does not insert rows that belong to unloaded pages or to another folder", () => {
    const s = listReducer(loaded(), { type: "upsert", items: [row(3, 3), row(50, 50, 2)], folderId: 1 });
    expect(ids(s)).toEqual([30, 20, 10]);
    const done = listReducer(loaded(true), { type: "upsert", items: [row(3, 3)], folderId: 1 });
    expect(ids(done)).toEqual([30, 20, 10, 3]);
  });

  it("replaces a known row with its fresh state and drops it if it moved away", () => {
    const starred = listItem({ id: 20, uid: 20, folder: 1, flags: { seen: true, answered: false, flagged: true, deleted: false, draft: false } });
    let s = listReducer(loaded(), { type: "upsert", items: [starred], folderId: 1 });
    expect(s.items[1]?.flags.flagged).toBe(true);
    s = listReducer(s, { type: "upsert", items: [row(20, 99, 7)], folderId: 1 });
    expect(ids(s)).toEqual([30, 10]);
  });

  it("in a search, updates rows in place and never inserts", () => {
    const start = listReducer(initialList("search:x"), { type: "page", key: "search:x", items: [row(30, 30, 4), row(20, 20, 1)], cursor: null, append: false });
    const s = listReducer(start, { type: "upsert", items: [row(99, 99, 1), row(30, 31, 5)], folderId: null });
    expect(ids(s)).toEqual([30, 20]);
    expect(s.items[0]?.folder).toBe(5);
  });

  it("removes expunged rows only from the folder they left", () => {
    const s = loaded();
    expect(ids(listReducer(s, { type: "remove", ids: [20], folderId: 1 }))).toEqual([30, 10]);
    expect(listReducer(s, { type: "remove", ids: [20], folderId: 2 })).toBe(s);
    expect(ids(listReducer(s, { type: "remove", ids: [30, 10], folderId: null }))).toEqual([20]);
  });

  it("applies flag changes to the chosen rows", () => {
    const s = listReducer(loaded(), { type: "flags", ids: [30, 10], add: ["flagged"], remove: ["seen"] });
    expect(s.items.map((m) => [m.flags.flagged, m.flags.seen])).toEqual([
      [true, false],
      [false, true],
      [true, false],
    ]);
  });
});
