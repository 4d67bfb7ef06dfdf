// One conversation in the reading pane: its messages of every folder (Sent included), oldest
// first; the open message and the newest are expanded (each a MessageView), the older ones
// collapsed to a line (sender, folder, date, snippet) that expands on click, as in Gmail.
// Opening a conversation reads all of it: its unread messages are marked read at once, as
// Naver and Gmail do (the opened one by useMessage, the others here).
import { useEffect, useRef, useState, type ReactNode } from "react";
import { setFlags } from "../../api/mail";
import { getMessage, type MessageDetail } from "../../api/messages";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { formatListDate } from "../../lib/formatDate";
import { singleLine } from "../../lib/plainText";
import { getConversation, type Conversation, type ConversationMessage } from "./conversationApi";
import "./conversation.css";

interface Props {
  conversationId: number;
  /** the message opened from the list, already loaded */
  current: MessageDetail;
  folderName: (folderId: number) => string;
  /** renders one expanded message (the layout passes a MessageView with its callbacks) */
  renderMessage: (message: MessageDetail, collapse: (() => void) | null) => ReactNode;
  load?: (id: number, signal: AbortSignal) => Promise<Conversation>;
  loadMessage?: (id: number, signal: AbortSignal) => Promise<MessageDetail>;
  markRead?: (ids: readonly number[]) => Promise<unknown>;
  /** after the other unread messages were marked read (counts may have changed) */
  onRead?: (ids: readonly number[]) => void;
}

const markSeen = (ids: readonly number[]): Promise<unknown> => setFlags(ids, ["seen"]);

export function ConversationView({
  conversationId,
  current,
  folderName,
  renderMessage,
  load = getConversation,
  loadMessage = getMessage,
  markRead = markSeen,
  onRead,
}: Props) {
  const { t } = useI18n();
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [expanded, setExpanded] = useState<ReadonlySet<number>>(new Set([current.id]));
  const onReadRef = useRef(onRead);
  onReadRef.current = onRead;

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    load(conversationId, abort.signal).then(
      (c) => {
        setConversation(c);
        const newest = c.messages[c.messages.length - 1];
        setExpanded(new Set(newest ? [current.id, newest.id] : [current.id]));
        const unread = c.messages.filter((m) => !m.flags.seen && m.id !== current.id).map((m) => m.id);
        if (unread.length === 0) return;
        markRead(unread).then(
          () => {
            if (abort.signal.aborted) return;
            const read = new Set(unread);
            setConversation((now) =>
              now === null
                ? now
                : { ...now, messages: now.messages.map((m) => (read.has(m.id) ? { ...m, flags: { ...m.flags, seen: true } } : m)) },
            );
            onReadRef.current?.(unread);
          },
          () => undefined, // best effort: they stay unread, as they were
        );
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setError(e);
      },
    );
    return () => abort.abort();
  }, [conversationId, current.id, load, markRead, attempt]);

  if (error !== null) return <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />;
  if (conversation === null) return renderMessage(current, null);

  const toggle = (id: number, on: boolean): void =>
    setExpanded((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  return (
    <div className="conversation" data-testid="conversation">
      <p className="conv-heading">
        <bdi>{singleLine(conversation.subject) || t("list.noSubject")}</bdi>{" "}
        <span className="conv-total">{t("conv.title", { count: conversation.count })}</span>
      </p>
      <ol className="conv-messages">
        {conversation.messages.map((m) =>
          expanded.has(m.id) ? (
            <li key={m.id} className="conv-message open" data-testid={`conv-open-${m.id}`}>
              {m.id === current.id ? (
                renderMessage(current, conversation.messages.length > 1 ? () => toggle(m.id, false) : null)
              ) : (
                <LoadedMessage id={m.id} load={loadMessage} render={(d) => renderMessage(d, () => toggle(m.id, false))} />
              )}
            </li>
          ) : (
            <li key={m.id} className="conv-message">
              <CollapsedLine message={m} folder={folderName(m.folder)} onExpand={() => toggle(m.id, true)} />
            </li>
          ),
        )}
      </ol>
    </div>
  );
}

function CollapsedLine({ message, folder, onExpand }: { message: ConversationMessage; folder: string; onExpand: () => void }) {
  const { t, locale } = useI18n();
  const sender = singleLine(message.from.name || message.from.address) || t("list.unknownSender");
  const date = formatListDate(message.internal_date, locale);
  return (
    <button
      type="button"
      className={message.flags.seen ? "conv-line" : "conv-line unread"}
      onClick={onExpand}
      aria-label={t("conv.expand", { sender, date })}
      data-testid={`conv-item-${message.id}`}
    >
      <bdi className="conv-sender">{sender}</bdi>
      {folder && <bdi className="folder-chip">{folder}</bdi>}
      <span className="conv-snippet">{singleLine(message.snippet)}</span>
      <time dateTime={message.internal_date}>{date}</time>
    </button>
  );
}

function LoadedMessage({
  id,
  load,
  render,
}: {
  id: number;
  load: (id: number, signal: AbortSignal) => Promise<MessageDetail>;
  render: (m: MessageDetail) => ReactNode;
}) {
  const { t } = useI18n();
  const [message, setMessage] = useState<MessageDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const abort = new AbortController();
    load(id, abort.signal).then(setMessage, (e: unknown) => {
      if (!abort.signal.aborted) setError(e);
    });
    return () => abort.abort();
  }, [id, load]);
  if (error !== null) return <ErrorNotice error={error} />;
  if (message === null) return <p className="loading">{t("loading")}</p>;
  return <>{render(message)}</>;
}
