import { describe, expect, it } from "vitest";
import { folder } from "../../test/fixtures";
import { applyCounts } from "../mailbox-list/useFolders";
import { effectsOf, nextConnection, parseLiveEvent, type Connection, type LiveEvent } from "./liveEvents";

type Change = Extract<LiveEvent, { type: "change" }>;
const change = (kind: Change["kind"], folderId: number, messageIds: number[]): Change => ({
  type: "change",
  kind,
  folderId,
  messageIds,
});

describe("parseLiveEvent", () => {
  it("reads change and counts events", () => {
    expect(parseLiveEvent("change", '{"kind":"add","folder_id":3,"message_ids":[7,8]}')).toEqual(change("add", 3, [7, 8]));
    expect(parseLiveEvent("counts", '{"folders":[{"id":3,"message_count":10,"unseen_count":2}]}')).toEqual({
      type: "counts",
      folders: [{ id: 3, message_count: 10, unseen_count: 2 }],
    });
  });

  it("drops malformed or hostile payloads", () => {
    expect(parseLiveEvent("change", "not json")).toBeNull();
    expect(parseLiveEvent("change", '{"kind":"nuke","folder_id":3}')).toBeNull();
    expect(parseLiveEvent("change", '{"kind":"add","folder_id":"3"}')).toBeNull();
    expect(parseLiveEvent("other", "{}")).toBeNull();
    expect(parseLiveEvent("change", '{"kind":"flags","folder_id":3,"message_ids":[1,"x",-2,2.5]}')).toEqual(change("flags", 3, [1]));
    expect(parseLiveEvent("counts", '{"folders":[{"id":1,"message_count":-1,"unseen_count":0},null]}')).toEqual({
      type: "counts",
      folders: [],
    });
  });
});

describe("effectsOf", () => {
  const inbox = { folderId: 1, loaded: new Set([10, 11, 12]) };
  const search = { folderId: null, loaded: new Set([10, 50]) };

  it("re-reads new mail of the open folder so it appears on top", () => {
    expect(effectsOf(change("add", 1, [13]), inbox)).toEqual([{ kind: "refresh", ids: [13] }]);
    expect(effectsOf(change("add", 2, [99]), inbox)).toEqual([]);
  });

  it("re-reads loaded rows whose flags changed, and only those", () => {
    expect(effectsOf(change("flags", 1, [11, 400]), inbox)).toEqual([{ kind: "refresh", ids: [11] }]);
    expect(effectsOf(change("flags", 1, [400]), inbox)).toEqual([]);
    expect(effectsOf(change("flags", 4, [50]), search)).toEqual([{ kind: "refresh", ids: [50] }]);
  });

  it("removes rows expunged or moved out of their folder", () => {
    expect(effectsOf(change("expunge", 1, [10, 12, 77]), inbox)).toEqual([{ kind: "remove", ids: [10, 12], folderId: 1 }]);
    expect(effectsOf(change("move", 5, [10]), inbox)).toEqual([{ kind: "refresh", ids: [10] }]);
  });

  it("reloads the folder list on folder changes", () => {
    expect(effectsOf(change("folder", 9, []), inbox)).toEqual([{ kind: "reloadFolders" }]);
  });
});

describe("nextConnection", () => {
  it("survives the normal end-of-stream reconnect", () => {
    let c: Connection = { mode: "stream", failures: 0 };
    for (let i = 0; i < 10; i++) c = nextConnection(nextConnection(c, "error"), "open");
    expect(c).toEqual({ mode: "stream", failures: 0 });
  });

  it("falls back to polling after repeated errors and tries the stream again later", () => {
    let c: Connection = { mode: "stream", failures: 0 };
    c = nextConnection(c, "error");
    c = nextConnection(c, "error");
    expect(c.mode).toBe("stream");
    c = nextConnection(c, "error");
    expect(c.mode).toBe("polling");
    expect(nextConnection(c, "retry")).toEqual({ mode: "stream", failures: 0 });
  });
});

describe("applyCounts", () => {
  it("updates only the folders in the event and keeps the others as they are", () => {
    const a = folder({ id: 1, total: 5, unread: 1 });
    const b = folder({ id: 2, special_use: "sent", total: 3, unread: 0 });
    const next = applyCounts([a, b], [{ id: 1, message_count: 6, unseen_count: 2 }]);
    expect(next[0]).toEqual({ ...a, total: 6, unread: 2 });
    expect(next[1]).toBe(b);
  });
});
