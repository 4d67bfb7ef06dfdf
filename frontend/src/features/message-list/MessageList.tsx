// The middle pane's grid: a virtualised window over the loaded rows (only what is in view is
// in the DOM, so 100 000 rows scroll as smoothly as 50), the next page fetched as the window
// nears the end (keyset cursor), roving focus and Gmail-style multi-select.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import type { ListState } from "./listState";
import { MessageRow, rowHeight, type ListDensity } from "./MessageRow";
import { toggleOne, toggleRange, type Selection } from "./selection";
import { nearEnd, scrollToReveal, visibleWindow } from "./virtualWindow";
import { useSentStatus } from "../outbox/useSentStatus";

interface Props {
  state: ListState;
  openId: number | null;
  activeId: number | null;
  selection: Selection;
  /** on search results: the folder name of each row */
  folderNameOf: ((folderId: number) => string) | null;
  /** true for rows of Sent and Drafts: they show recipients instead of the sender */
  showsRecipients?: (folderId: number) => boolean;
  density?: ListDensity;
  emptyText: string;
  onOpen: (id: number) => void;
  onActivate: (id: number) => void;
  onSelectionChange: (selection: Selection) => void;
  onStar: (id: number, on: boolean) => void;
  onLoadMore: () => void;
}

// jsdom and a not-yet-laid-out pane report 0: assume a tall screen until measured.
const FALLBACK_HEIGHT = 900;

export function MessageList({
  state,
  openId,
  activeId,
  selection,
  folderNameOf,
  showsRecipients,
  density = "comfortable",
  emptyText,
  onOpen,
  onActivate,
  onSelectionChange,
  onStar,
  onLoadMore,
}: Props) {
  const t = useT();
  const scrollRef = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(FALLBACK_HEIGHT);
  const { items } = state;
  const ROW_HEIGHT = rowHeight(density);
  const range = visibleWindow(scrollTop, height, ROW_HEIGHT, items.length);
  const readStatus = useSentStatus(
    showsRecipients ? items.filter((m) => showsRecipients(m.folder)).slice(0, 500).map((m) => m.id) : [],
  );

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const measure = (): void => setHeight(el.clientHeight || FALLBACK_HEIGHT);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // A new list starts at the top.
  useEffect(() => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
    setScrollTop(0);
  }, [state.key]);

  // Keyset paging: fetch the next page before the user reaches the last loaded row.
  const wantMore = !state.done && !state.loading && state.error === null && nearEnd(range, items.length);
  useEffect(() => {
    if (wantMore) onLoadMore();
  }, [wantMore, onLoadMore, items.length]);

  // Keep the keyboard cursor in view, and focused when focus is already in the grid.
  useEffect(() => {
    const el = scrollRef.current;
    if (!el || activeId === null) return;
    const index = items.findIndex((m) => m.id === activeId);
    if (index < 0) return;
    const next = scrollToReveal(index, el.scrollTop, el.clientHeight || height, ROW_HEIGHT);
    if (next !== el.scrollTop) {
      el.scrollTop = next;
      setScrollTop(next);
    }
    if (el.contains(document.activeElement)) {
      el.querySelector<HTMLElement>(`[data-id="${activeId}"]`)?.focus({ preventScroll: true });
    }
  }, [activeId, items, height]);

  const onCheck = useCallback(
    (id: number, shift: boolean) => {
      const order = items.map((m) => m.id);
      onSelectionChange(shift ? toggleRange(selection, order, id) : toggleOne(selection, id));
    },
    [items, selection, onSelectionChange],
  );

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.altKey || e.ctrlKey || e.metaKey || items.length === 0) return;
    const index = Math.max(0, items.findIndex((m) => m.id === activeId));
    const pageRows = Math.max(1, Math.floor(height / ROW_HEIGHT) - 1);
    const go = (i: number): void => {
      const m = items[Math.min(items.length - 1, Math.max(0, i))];
      if (m) onActivate(m.id);
    };
    switch (e.key) {
      case "ArrowDown":
        go(index + 1);
        break;
      case "ArrowUp":
        go(index - 1);
        break;
      case "PageDown":
        go(index + pageRows);
        break;
      case "PageUp":
        go(index - pageRows);
        break;
      case "Home":
        go(0);
        break;
      case "End":
        go(items.length - 1);
        break;
      case "Enter":
        if (activeId !== null) onOpen(activeId);
        break;
      case " ":
        if (activeId !== null) onCheck(activeId, e.shiftKey);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  // With no cursor yet, the first row takes the Tab stop.
  const tabStop = activeId !== null && items.some((m) => m.id === activeId) ? activeId : (items[0]?.id ?? null);

  return (
    <div className={`message-list density-${density}`}>
      <div
        ref={scrollRef}
        className="list-scroll"
        role="grid"
        aria-label={t("list.title")}
        aria-multiselectable="true"
        aria-rowcount={state.done ? items.length : -1}
        aria-busy={state.loading}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        onKeyDown={onKeyDown}
        data-testid="message-list"
      >
        <div className="list-spacer" role="presentation" style={{ height: range.total }}>
          <div role="rowgroup" className="list-window" style={{ transform: `translateY(${range.offset}px)` }}>
            {items.slice(range.start, range.end).map((m, i) => (
              <MessageRow
                key={m.id}
                message={m}
                index={range.start + i}
                open={m.id === openId}
                checked={selection.ids.has(m.id)}
                active={m.id === tabStop}
                folderName={folderNameOf ? folderNameOf(m.folder) : null}
                showRecipients={showsRecipients ? showsRecipients(m.folder) : false}
                readStatus={readStatus.get(m.id) ?? null}
                onOpen={onOpen}
                onCheck={onCheck}
                onStar={onStar}
                onFocusRow={onActivate}
              />
            ))}
          </div>
        </div>
      </div>
      <div className="list-status" role="status">
        {items.length === 0 && state.done && state.error === null && <p className="empty">{emptyText}</p>}
        {state.loading && <p className="loading">{t("loading")}</p>}
      </div>
      {state.error !== null && <ErrorNotice error={state.error} onRetry={onLoadMore} />}
    </div>
  );
}
