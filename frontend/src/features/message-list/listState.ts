// The loaded part of one message list (a folder or a search) and how pages, live changes and
// the user's own actions change it. Pure reducer: useMessageList feeds it.
import type { MessageListItem } from "../../api/folders";
import type { FlagName } from "../../api/mail";

export interface ListState {
  /** which list this is ("folder:3", "search:…"); pages for another key are dropped */
  key: string;
  items: readonly MessageListItem[];
  cursor: string | null;
  /** every page is loaded */
  done: boolean;
  loading: boolean;
  error: unknown;
}

export type ListAction =
  | { type: "reset"; key: string }
  | { type: "loading"; key: string }
  | { type: "page"; key: string; items: readonly MessageListItem[]; cursor: string | null; append: boolean }
  | { type: "error"; key: string; error: unknown }
  /** fresh rows from the server: replace known ones, insert new ones of `folderId`, drop
   * those that now live in another folder (folderId null = a search: never insert) */
  | { type: "upsert"; items: readonly MessageListItem[]; folderId: number | null }
  /** rows that left `folderId` (moved away or expunged); null = whichever folder */
  | { type: "remove"; ids: readonly number[]; folderId: number | null }
  | { type: "flags"; ids: readonly number[]; add: readonly FlagName[]; remove: readonly FlagName[] }
  /** new rows of a list ordered by id, newest first (a quick view): unknown ones go in */
  | { type: "insertById"; items: readonly MessageListItem[] };

export function initialList(key: string): ListState {
  return { key, items: [], cursor: null, done: false, loading: false, error: null };
}

function insertByUid(items: MessageListItem[], item: MessageListItem): void {
  const at = items.findIndex((m) => m.uid < item.uid);
  if (at < 0) items.push(item);
  else items.splice(at, 0, item);
}

function setFlags(m: MessageListItem, add: readonly FlagName[], remove: readonly FlagName[]): MessageListItem {
  const flags = { ...m.flags };
  for (const f of add) flags[f] = true;
  for (const f of remove) flags[f] = false;
  return { ...m, flags };
}

export function listReducer(state: ListState, action: ListAction): ListState {
  switch (action.type) {
    case "reset":
      return initialList(action.key);
    case "loading":
      return action.key === state.key ? { ...state, loading: true, error: null } : state;
    case "page": {
      if (action.key !== state.key) return state;
      let items: readonly MessageListItem[] = action.items;
      if (action.append) {
        // A live insert may already have brought a row of this page in.
        const known = new Set(state.items.map((m) => m.id));
        items = [...state.items, ...action.items.filter((m) => !known.has(m.id))];
      }
      return { ...state, items, cursor: action.cursor, done: action.cursor === null, loading: false, error: null };
    }
    case "error":
      return action.key === state.key ? { ...state, loading: false, error: action.error } : state;
    case "upsert": {
      if (action.items.length === 0) return state;
      const fresh = new Map(action.items.map((m) => [m.id, m]));
      const items: MessageListItem[] = [];
      for (const m of state.items) {
        const next = fresh.get(m.id);
        if (!next) items.push(m);
        else {
          fresh.delete(m.id);
          if (action.folderId === null || next.folder === action.folderId) items.push(next);
        }
      }
      if (action.folderId !== null) {
        const last = items[items.length - 1];
        for (const m of fresh.values()) {
          // Older than the loaded part: it will arrive with its own page.
          if (m.folder === action.folderId && (state.done || !last || m.uid > last.uid)) insertByUid(items, m);
        }
      }
      return { ...state, items };
    }
    case "remove": {
      const gone = new Set(action.ids);
      const items = state.items.filter(
        (m) => !(gone.has(m.id) && (action.folderId === null || m.folder === action.folderId)),
      );
      return items.length === state.items.length ? state : { ...state, items };
    }
    case "insertById": {
      const known = new Set(state.items.map((m) => m.id));
      const fresh = action.items.filter((m) => !known.has(m.id));
      if (fresh.length === 0) return state;
      const items = [...state.items];
      const last = items[items.length - 1];
      for (const m of fresh) {
        // Older than the loaded part: it will arrive with its own page.
        if (!state.done && last && m.id < last.id) continue;
        const at = items.findIndex((x) => x.id < m.id);
        if (at < 0) items.push(m);
        else items.splice(at, 0, m);
      }
      return { ...state, items };
    }
    case "flags": {
      const ids = new Set(action.ids);
      return { ...state, items: state.items.map((m) => (ids.has(m.id) ? setFlags(m, action.add, action.remove) : m)) };
    }
  }
}
