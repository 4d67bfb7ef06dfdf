// Which rows belong in a quick view (안읽은메일, 중요메일, 첨부메일), so the open view follows
// live changes as the server's filter would: a read mail leaves 안읽은메일, a new unread one
// joins it, a mail moved to Trash or Junk leaves every view. Pure; MailLayout applies it.
import type { MessageListItem } from "../../api/folders";
import type { QuickView } from "../../lib/route";

export type RowFilter = (m: MessageListItem) => boolean;

/** The view's filter over rows; `hidden` are the Trash and Junk folder ids. */
export function viewAccepts(view: QuickView, hidden: ReadonlySet<number>): RowFilter {
  return (m) => {
    if (hidden.has(m.folder)) return false;
    switch (view) {
      case "unread":
        return !m.flags.seen;
      case "flagged":
        return m.flags.flagged;
      case "attachments":
        return m.has_attachments;
    }
  };
}

/** Rows of the view that no longer match, except the open one: it stays while it is read
 * (Naver keeps it too) and leaves once another row or the list is shown. */
export function leavingRows(items: readonly MessageListItem[], accepts: RowFilter, openId: number | null): number[] {
  return items.filter((m) => m.id !== openId && !accepts(m)).map((m) => m.id);
}
