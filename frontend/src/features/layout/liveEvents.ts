// The live stream (GET /api/v1/events, contracts.md) as data: parsing its events, what each
// change means for the open list, and when to give up on EventSource and poll instead.
// Pure; useLive wires it to the browser.
import type { FolderCounts } from "../mailbox-list/useFolders";

export type ChangeKind = "add" | "flags" | "move" | "expunge" | "folder";

export type LiveEvent =
  | { type: "change"; kind: ChangeKind; folderId: number; messageIds: number[] }
  | { type: "counts"; folders: FolderCounts[] };

const KINDS: readonly string[] = ["add", "flags", "move", "expunge", "folder"];

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The event, or null for anything malformed (a proxy's garbage must not break the app). */
export function parseLiveEvent(name: string, data: string): LiveEvent | null {
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof payload !== "object" || payload === null) return null;
  const p = payload as Record<string, unknown>;
  if (name === "change") {
    if (typeof p.kind !== "string" || !KINDS.includes(p.kind) || !isId(p.folder_id)) return null;
    const ids = Array.isArray(p.message_ids) ? p.message_ids.filter(isId) : [];
    return { type: "change", kind: p.kind as ChangeKind, folderId: p.folder_id, messageIds: ids };
  }
  if (name === "counts") {
    if (!Array.isArray(p.folders)) return null;
    const folders: FolderCounts[] = [];
    for (const f of p.folders as unknown[]) {
      if (typeof f !== "object" || f === null) continue;
      const c = f as Record<string, unknown>;
      if (isId(c.id) && isCount(c.message_count) && isCount(c.unseen_count)) {
        folders.push({ id: c.id, message_count: c.message_count, unseen_count: c.unseen_count });
      }
    }
    return { type: "counts", folders };
  }
  return null;
}

export interface OpenList {
  /** the folder shown, or null for search results */
  folderId: number | null;
  /** ids of the rows loaded now */
  loaded: ReadonlySet<number>;
}

export type ListEffect =
  | { kind: "refresh"; ids: number[] }
  | { kind: "remove"; ids: number[]; folderId: number }
  | { kind: "reloadFolders" };

/** What a change means for the open list: re-read rows (new, changed, moved in or out),
 * drop rows that left their folder, reload the folder list. */
export function effectsOf(change: Extract<LiveEvent, { type: "change" }>, list: OpenList): ListEffect[] {
  const loaded = change.messageIds.filter((id) => list.loaded.has(id));
  switch (change.kind) {
    case "folder":
      return [{ kind: "reloadFolders" }];
    case "expunge":
      return loaded.length ? [{ kind: "remove", ids: loaded, folderId: change.folderId }] : [];
    case "add":
    case "move": {
      const ids = list.folderId !== null && change.folderId === list.folderId ? change.messageIds : loaded;
      return ids.length ? [{ kind: "refresh", ids }] : [];
    }
    case "flags":
      return loaded.length ? [{ kind: "refresh", ids: loaded }] : [];
  }
}

// EventSource reconnects by itself (the server ends each stream after ~5 min and says
// retry: 2000). Only errors without an open in between mean it cannot get through.
export const MAX_FAILURES = 3;
export const POLL_MS = 30_000;
export const RETRY_STREAM_MS = 5 * 60_000;

export interface Connection {
  mode: "stream" | "polling";
  failures: number;
}

export function nextConnection(state: Connection, event: "open" | "error" | "retry"): Connection {
  switch (event) {
    case "open":
      return { mode: "stream", failures: 0 };
    case "error": {
      const failures = state.failures + 1;
      return { mode: failures >= MAX_FAILURES ? "polling" : state.mode, failures };
    }
    case "retry":
      return { mode: "stream", failures: 0 };
  }
}
