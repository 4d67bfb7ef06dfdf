// The folder list with its counts: loaded once, reloaded on demand (after a bulk action, a
// folder change or a polling tick) and patched in place by live `counts` events.
import { useCallback, useEffect, useState } from "react";
import { listFolders, type Folder } from "../../api/folders";

export interface FolderCounts {
  id: number;
  message_count: number;
  unseen_count: number;
}

/** Applies a live `counts` event; folders not in it keep their numbers. */
export function applyCounts(folders: readonly Folder[], counts: readonly FolderCounts[]): Folder[] {
  const byId = new Map(counts.map((c) => [c.id, c]));
  return folders.map((f) => {
    const c = byId.get(f.id);
    return c && (c.message_count !== f.total || c.unseen_count !== f.unread)
      ? { ...f, total: c.message_count, unread: c.unseen_count }
      : f;
  });
}

export function useFolders() {
  const [folders, setFolders] = useState<Folder[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    listFolders(abort.signal).then(
      (list) => {
        setFolders(list.results);
        setError(null);
      },
      (err: unknown) => {
        if (!abort.signal.aborted) setError(err);
      },
    );
    return () => abort.abort();
  }, [attempt]);

  const adjustUnread = useCallback((folderId: number, delta: number) => {
    setFolders((list) =>
      list?.map((f) => (f.id === folderId ? { ...f, unread: Math.max(0, f.unread + delta) } : f)) ?? null,
    );
  }, []);

  const updateCounts = useCallback((counts: readonly FolderCounts[]) => {
    setFolders((list) => (list ? applyCounts(list, counts) : list));
  }, []);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);

  return { folders, error, reload, adjustUnread, updateCounts };
}
