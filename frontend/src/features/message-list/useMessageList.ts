// One message list (a folder, or search results) page by page along next_cursor, plus what
// keeps it current without a reload: live changes, polling and the user's own actions.
import { useCallback, useEffect, useReducer, useRef } from "react";
import type { MessageListItem } from "../../api/folders";
import { listFolderPage, refreshMessages, searchMessages } from "../../api/mail";
import { listViewPage } from "../../api/quickViews";
import type { QuickView } from "../../lib/route";
import { initialList, listReducer, type ListAction } from "./listState";

export type ListSource =
  | { kind: "folder"; folderId: number; grouped?: boolean }
  | { kind: "search"; q: string; folderId: number | null }
  | { kind: "view"; view: QuickView };

export function sourceKey(source: ListSource | null): string {
  if (source === null) return "none";
  if (source.kind === "view") return `view:${source.view}`;
  return source.kind === "folder" ? `folder:${source.folderId}${source.grouped ? ":c" : ""}` : `search:${source.folderId ?? ""}:${source.q}`;
}

function fetchPage(source: ListSource, cursor: string | null, limit: number, signal: AbortSignal) {
  if (source.kind === "view") return listViewPage(source.view, cursor, limit, signal);
  return source.kind === "folder"
    ? listFolderPage(source.folderId, cursor, limit, signal, source.grouped ? "conversation" : null)
    : searchMessages(source.q, source.folderId, cursor, limit, signal);
}

/** Search items may carry folder_id (contract) as well as folder: normalise to folder. */
function normalise(items: readonly (MessageListItem & { folder_id?: number })[]): MessageListItem[] {
  return items.map((m) => (m.folder_id !== undefined && m.folder === undefined ? { ...m, folder: m.folder_id } : m));
}

/** Rows for a grouped list: an incoming row without a summary keeps the one it had; a loaded
 * row whose conversation now has a newer head among the incoming rows leaves (superseded). */
export function mergeGrouped(
  loaded: readonly MessageListItem[],
  incoming: readonly MessageListItem[],
): { rows: MessageListItem[]; superseded: number[] } {
  const had = new Map(loaded.map((m) => [m.id, m]));
  const heads = new Map(incoming.map((m) => [m.conversation_id, m.id]));
  const superseded = loaded.filter((m) => heads.has(m.conversation_id) && heads.get(m.conversation_id) !== m.id).map((m) => m.id);
  const rows = incoming.map((m) => {
    const old = had.get(m.id);
    return m.conversation == null && old?.conversation ? { ...m, conversation: old.conversation } : m;
  });
  return { rows, superseded };
}

/** `pageSize` null: not known yet, nothing is fetched until it is. `accepts`: for a quick
 * view, which fresh rows belong in it (new matching rows are inserted live). */
export function useMessageList(
  source: ListSource | null,
  pageSize: number | null,
  accepts: ((m: MessageListItem) => boolean) | null = null,
) {
  const acceptsRef = useRef(accepts);
  acceptsRef.current = accepts;
  const key = sourceKey(source);
  const [state, dispatch] = useReducer(listReducer, key, initialList);
  const sourceRef = useRef(source);
  sourceRef.current = source;
  const stateRef = useRef(state);
  stateRef.current = state;
  const abortRef = useRef<AbortController | null>(null);

  const load = useCallback(
    (cursor: string | null) => {
      const src = sourceRef.current;
      if (src === null || pageSize === null) return;
      const k = sourceKey(src);
      abortRef.current?.abort();
      const abort = new AbortController();
      abortRef.current = abort;
      dispatch({ type: "loading", key: k });
      fetchPage(src, cursor, pageSize, abort.signal).then(
        (page) => dispatch({ type: "page", key: k, items: normalise(page.results), cursor: page.next_cursor, append: cursor !== null }),
        (error: unknown) => {
          if (!abort.signal.aborted) dispatch({ type: "error", key: k, error });
        },
      );
    },
    [pageSize],
  );

  useEffect(() => {
    dispatch({ type: "reset", key });
    if (key !== "none") load(null);
    return () => abortRef.current?.abort();
  }, [key, load]);

  const loadMore = useCallback(() => {
    const s = stateRef.current;
    if (s.loading || s.done) return;
    load(s.items.length === 0 ? null : s.cursor);
  }, [load]);

  const upsert = useCallback((items: readonly MessageListItem[]) => {
    const src = sourceRef.current;
    const folderId = src?.kind === "folder" ? src.folderId : null;
    if (src?.kind === "folder" && src.grouped === true) {
      const { rows, superseded } = mergeGrouped(stateRef.current.items, normalise(items));
      if (superseded.length > 0) dispatch({ type: "remove", ids: superseded, folderId: null });
      dispatch({ type: "upsert", items: rows, folderId });
      return;
    }
    dispatch({ type: "upsert", items: normalise(items), folderId });
    const accept = acceptsRef.current;
    if (src?.kind === "view" && accept !== null) {
      dispatch({ type: "insertById", items: normalise(items).filter(accept) });
    }
  }, []);

  /** Re-reads these rows (capped at the API's 1000); rows that are gone are left to the
   * expunge notice that follows their removal. */
  const refresh = useCallback(
    (ids: readonly number[]) => {
      if (ids.length === 0) return;
      const src = sourceRef.current;
      // Grouped rows carry conversation summaries that only a grouped page has.
      if (src?.kind === "folder" && src.grouped === true) {
        pollRef.current();
        return;
      }
      refreshMessages(ids.slice(0, 1000)).then(
        (res) => upsert(res.results),
        () => undefined, // best effort: the next poll or notice brings the list back in step
      );
    },
    [upsert],
  );

  /** Polling fallback: the first page again, merged in (new mail on top, flags updated). */
  const pollRef = useRef<() => void>(() => undefined);
  const pollHead = useCallback(() => {
    const src = sourceRef.current;
    if (src === null || pageSize === null) return;
    const k = sourceKey(src);
    const abort = new AbortController();
    fetchPage(src, null, pageSize, abort.signal).then(
      (page) => {
        if (sourceKey(sourceRef.current) === k) upsert(page.results);
      },
      () => undefined,
    );
  }, [pageSize, upsert]);

  pollRef.current = pollHead;

  const reload = useCallback(() => {
    dispatch({ type: "reset", key: sourceKey(sourceRef.current) });
    load(null);
  }, [load]);

  const act = useCallback((action: ListAction) => dispatch(action), []);

  return { state, loadMore, refresh, pollHead, reload, upsert, dispatch: act };
}
