// One line of the message list: sender, subject, snippet, date; bold while unread.
import type { MessageListItem } from "../../api/folders";
import { useI18n } from "../../i18n/I18nContext";
import { formatListDate } from "../../lib/formatDate";

interface Props {
  message: MessageListItem;
  selected: boolean;
  onOpen: (messageId: number) => void;
}

export function MessageRow({ message, selected, onOpen }: Props) {
  const { t, locale } = useI18n();
  const unread = !message.flags.seen;
  const sender = message.from.name || message.from.address || t("list.unknownSender");
  const classes = ["message-row", unread ? "unread" : "read", selected ? "selected" : ""];
  return (
    <li className={classes.join(" ").trim()} data-unread={unread}>
      <button
        type="button"
        onClick={() => onOpen(message.id)}
        aria-current={selected ? "true" : undefined}
        data-testid={`message-${message.id}`}
        title={message.from.address}
      >
        <span className="sender">{sender}</span>
        <span className="marks">
          {message.flags.flagged && <span className="star" aria-label={t("list.starred")}>★</span>}
          {message.has_attachments && (
            <span className="clip" aria-label={t("list.attachment")}>📎</span>
          )}
        </span>
        <span className="subject">{message.subject || t("list.noSubject")}</span>
        <span className="snippet">{message.snippet}</span>
        <time className="date" dateTime={message.date}>
          {formatListDate(message.date, locale)}
        </time>
      </button>
    </li>
  );
}
