import { describe, expect, it } from "vitest";
import type { MessageListItem } from "../../api/folders";
import { leavingRows, viewAccepts } from "./viewFilter";

function row(id: number, over: { folder?: number; seen?: boolean; flagged?: boolean; has_attachments?: boolean } = {}): MessageListItem {
  return {
    id,
    folder: over.folder ?? 1,
    has_attachments: over.has_attachments ?? false,
    flags: { seen: over.seen ?? false, flagged: over.flagged ?? false, answered: false, draft: false, forwarded: false },
  } as unknown as MessageListItem;
}

describe("quick view filter", () => {
  const hidden = new Set([9]);

  it("keeps what the server's filter keeps", () => {
    expect(viewAccepts("unread", hidden)(row(1))).toBe(true);
    expect(viewAccepts("unread", hidden)(row(1, { seen: true }))).toBe(false);
    expect(viewAccepts("flagged", hidden)(row(1, { flagged: true, seen: true }))).toBe(true);
    expect(viewAccepts("attachments", hidden)(row(1, { has_attachments: true }))).toBe(true);
    expect(viewAccepts("attachments", hidden)(row(1))).toBe(false);
  });

  it("drops Trash and Junk from every view", () => {
    expect(viewAccepts("unread", hidden)(row(1, { folder: 9 }))).toBe(false);
  });

  it("lets the open row stay while it is read", () => {
    const rows = [row(1, { seen: true }), row(2, { seen: true }), row(3)];
    expect(leavingRows(rows, viewAccepts("unread", hidden), 2)).toEqual([1]);
    expect(leavingRows(rows, viewAccepts("unread", hidden), null)).toEqual([1, 2]);
  });
});
