import { describe, expect, it } from "vitest";
import { listItem } from "../../test/fixtures";
import { mergeGrouped } from "../message-list/useMessageList";

const summary = (id: number, count: number) => ({ id, count, unread: 0, newest_date: "2026-12-04T00:00:00Z" });

describe("mergeGrouped", () => {
  it("keeps a row's conversation summary when a refresh brings the row without one", () => {
    const loaded = [listItem({ id: 3, conversation_id: 9, conversation: summary(9, 3) })];
    const { rows, superseded } = mergeGrouped(loaded, [listItem({ id: 3, conversation_id: 9, conversation: null })]);
    expect(rows[0]?.conversation).toEqual(summary(9, 3));
    expect(superseded).toEqual([]);
  });

  it("drops the old head when a newer message of its conversation arrives", () => {
    const loaded = [listItem({ id: 3, conversation_id: 9, conversation: summary(9, 3) }), listItem({ id: 2, conversation_id: 8 })];
    const { rows, superseded } = mergeGrouped(loaded, [listItem({ id: 5, conversation_id: 9, conversation: summary(9, 4) })]);
    expect(superseded).toEqual([3]);
    expect(rows.map((r) => [r.id, r.conversation?.count])).toEqual([[5, 4]]);
  });
});
