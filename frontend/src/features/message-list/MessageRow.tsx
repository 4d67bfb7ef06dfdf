// One row of the message grid: select checkbox, star toggle, then sender (recipients in Sent
// and Drafts), subject, snippet, marks and arrival time; bold while unread. Fixed height
// (rowHeight(density), kept in step with shell.css and listDensity.css).
import { memo, type MouseEvent } from "react";
import type { MessageListItem } from "../../api/folders";
import { useI18n } from "../../i18n/I18nContext";
import { formatListDate } from "../../lib/formatDate";
import { singleLine } from "../../lib/plainText";
import { recipientSummary, recipientTitle } from "../../lib/recipients";
import { Highlight } from "../search/Highlight";
import { ConversationCount } from "../conversation/ConversationCount";

export const ROW_HEIGHT = 72;
export const COMPACT_ROW_HEIGHT = 34;
export type ListDensity = "compact" | "comfortable";

export function rowHeight(density: ListDensity): number {
  return density === "compact" ? COMPACT_ROW_HEIGHT : ROW_HEIGHT;
}

interface Props {
  message: MessageListItem;
  index: number;
  open: boolean;
  checked: boolean;
  active: boolean;
  /** folder name shown on search results */
  folderName: string | null;
  /** Sent and Drafts: who it went to, not who sent it (always the owner) */
  showRecipients?: boolean;
  /** Sent: 수신확인 ("n명 중 m명 읽음", or 읽음/안읽음 for one recipient); null = none */
  readStatus?: { read: number; total: number } | null;
  onOpen: (id: number) => void;
  onCheck: (id: number, shift: boolean) => void;
  onStar: (id: number, on: boolean) => void;
  onFocusRow: (id: number) => void;
}

export const MessageRow = memo(function MessageRow({
  message,
  index,
  open,
  checked,
  active,
  folderName,
  showRecipients = false,
  readStatus = null,
  onOpen,
  onCheck,
  onStar,
  onFocusRow,
}: Props) {
  const { t, locale } = useI18n();
  const conv = message.conversation ?? null;
  const unread = conv ? conv.unread > 0 : !message.flags.seen;
  const starred = message.flags.flagged;
  const sender = showRecipients
    ? recipientSummary(message.to, message.cc, t)
    : singleLine(message.from.name || message.from.address) || t("list.unknownSender");
  const senderTitle = showRecipients ? recipientTitle(message.to, message.cc) : message.from.address;
  const subject = singleLine(message.subject) || t("list.noSubject");
  const classes = ["message-row", unread ? "unread" : "read", open ? "open" : "", checked ? "checked" : "", active ? "active" : ""];
  const onRowClick = (e: MouseEvent<HTMLDivElement>): void => {
    // Clicks on the checkbox and the star have their own meaning.
    if ((e.target as HTMLElement).closest("input, button")) return;
    onOpen(message.id);
  };
  return (
    <div
      role="row"
      aria-rowindex={index + 1}
      aria-selected={checked}
      aria-current={open ? "true" : undefined}
      tabIndex={active ? 0 : -1}
      className={classes.filter(Boolean).join(" ")}
      data-unread={unread}
      data-id={message.id}
      data-testid={`message-${message.id}`}
      onClick={onRowClick}
      onFocus={(e) => {
        if (e.target === e.currentTarget) onFocusRow(message.id);
      }}
    >
      <span role="gridcell" className="cell-check">
        <input
          type="checkbox"
          tabIndex={-1}
          checked={checked}
          aria-label={t("list.select", { subject })}
          onClick={(e) => onCheck(message.id, e.shiftKey)}
          onChange={() => undefined}
          data-testid={`select-${message.id}`}
        />
      </span>
      <span role="gridcell" className="cell-star">
        <button
          type="button"
          tabIndex={-1}
          className={starred ? "star on" : "star"}
          aria-pressed={starred}
          aria-label={t("list.star")}
          title={starred ? t("list.starred") : t("list.star")}
          onClick={() => onStar(message.id, !starred)}
          data-testid={`star-${message.id}`}
        >
          {starred ? "★" : "☆"}
        </button>
      </span>
      <span role="gridcell" className="cell-main" title={senderTitle}>
        <bdi className="sender">{sender}</bdi>
        {conv && conv.count > 1 && <ConversationCount count={conv.count} id={message.id} />}
        <span className="marks">
          {folderName !== null && <bdi className="folder-chip">{folderName}</bdi>}
          {readStatus && readStatus.total > 0 && (
            <span className="read-chip" data-testid={`read-chip-${message.id}`}>
              {readStatus.total === 1
                ? readStatus.read === 1
                  ? t("outbox.status.read")
                  : t("outbox.status.unread")
                : t("outbox.status.summary", { read: readStatus.read, total: readStatus.total })}
            </span>
          )}
          {message.has_attachments && (
            <span className="clip" role="img" aria-label={t("list.attachment")}>
              📎
            </span>
          )}
        </span>
        <time className="date" dateTime={conv ? conv.newest_date : message.internal_date} data-testid="arrival">
          {formatListDate(conv ? conv.newest_date : message.internal_date, locale)}
        </time>
        <bdi className="subject">
          {unread && <span className="visually-hidden">{t("list.unread")} </span>}
          <Highlight text={subject} />
        </bdi>
        <span className="snippet">
          <Highlight text={singleLine(message.snippet)} />
        </span>
      </span>
    </div>
  );
});
