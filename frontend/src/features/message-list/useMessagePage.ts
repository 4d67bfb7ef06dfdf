// The messages of one folder, page by page along next_cursor.
import { useCallback, useEffect, useRef, useState } from "react";
import { listMessages, type MessageListItem } from "../../api/folders";

export function useMessagePage(folderId: number | null) {
  const [messages, setMessages] = useState<MessageListItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const abortRef = useRef<AbortController | null>(null);

  const load = useCallback((folder: number, from: string | null) => {
    abortRef.current?.abort();
    const abort = new AbortController();
    abortRef.current = abort;
    setLoading(true);
    setError(null);
    listMessages(folder, from, abort.signal).then(
      (page) => {
        setMessages((prev) => (from === null ? page.results : [...prev, ...page.results]));
        setCursor(page.next_cursor);
        setHasMore(page.next_cursor !== null);
        setLoading(false);
      },
      (err: unknown) => {
        if (abort.signal.aborted) return;
        setError(err);
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    setMessages([]);
    setHasMore(false);
    if (folderId !== null) load(folderId, null);
    return () => abortRef.current?.abort();
  }, [folderId, load]);

  const loadMore = useCallback(() => {
    if (folderId !== null) load(folderId, cursor);
  }, [folderId, cursor, load]);

  const markSeen = useCallback((messageId: number) => {
    setMessages((list) =>
      list.map((m) => (m.id === messageId ? { ...m, flags: { ...m.flags, seen: true } } : m)),
    );
  }, []);

  return { messages, hasMore, loading, error, loadMore, markSeen };
}
