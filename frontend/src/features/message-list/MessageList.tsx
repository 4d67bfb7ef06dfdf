// The middle pane: one folder's messages, newest first, with cursor paging ("load more").
import type { MessageListItem } from "../../api/folders";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { MessageRow } from "./MessageRow";

interface Props {
  messages: readonly MessageListItem[];
  selectedId: number | null;
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  onOpen: (messageId: number) => void;
  onLoadMore: () => void;
}

export function MessageList({ messages, selectedId, loading, error, hasMore, onOpen, onLoadMore }: Props) {
  const t = useT();
  return (
    <section className="message-list" aria-busy={loading}>
      {messages.length === 0 && !loading && !error && <p className="empty">{t("list.empty")}</p>}
      <ul>
        {messages.map((m) => (
          <MessageRow key={m.id} message={m} selected={m.id === selectedId} onOpen={onOpen} />
        ))}
      </ul>
      {loading && <p className="loading">{t("loading")}</p>}
      {error !== null && <ErrorNotice error={error} onRetry={onLoadMore} />}
      {hasMore && !loading && error === null && (
        <button type="button" className="load-more" onClick={onLoadMore} data-testid="load-more">
          {t("list.loadMore")}
        </button>
      )}
    </section>
  );
}
