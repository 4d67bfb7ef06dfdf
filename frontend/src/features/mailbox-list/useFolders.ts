// Loads the folder list; `adjustUnread` keeps counts right after a message is read here.
import { useCallback, useEffect, useState } from "react";
import { listFolders, type Folder } from "../../api/folders";

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

  return { folders, error, reload: () => setAttempt((n) => n + 1), adjustUnread };
}
