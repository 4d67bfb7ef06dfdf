// The app's URLs. Django answers every one of them with index.html, so a reload or a pasted
// link lands on the same screen. Owned by the shell ("fe-shell"); link with routeHref/navigate.
//
//   /                                       → the Inbox (redirects to /folders/{inbox id})
//   /folders/{id}                           → mail: a folder's list
//   /folders/{id}/messages/{mid}            → mail: a folder's list + one message
//   /views/{unread|flagged|attachments}[/messages/{mid}] → a quick view (all folders but Trash/Junk)
//   /search?q=…[&folder={id}]               → search results (all folders but Trash/Junk, or one)
//   /search/messages/{mid}?q=…[&folder=…]   → search results + one message
//   /compose                                → new message
//   /compose?draft={id}                     → continue a draft (drafts API id)
//   /compose?reply={mid} | ?replyall={mid} | ?forward={mid}   → answer / forward a message
//   /compose?to=addr                        → new message to an address (mailto-like)
//   /settings[/{section}]                   → settings (section chosen by SettingsView)
//   /contacts                               → the address book (주소록)
//   /outbox                                 → scheduled mail (예약 메일, features/outbox)
//   /admin[/{rest…}]                        → admin console (rest is the console's own path)
//
// Screens of other helpers, rendered lazily by src/features/layout/MailLayout.tsx:
//   ComposeView  (src/features/compose/ComposeView.tsx)
//     props: { params: ComposeParams; onClose: () => void }  — onClose after send/discard.
//   SettingsView (src/features/settings/SettingsView.tsx)
//     props: { section: string | null; onClose: () => void; onNavigate: (section: string | null) => void }
//   AdminView    (src/features/admin/AdminView.tsx)
//     props: { path: string; onNavigate: (path: string) => void }  — path like "" or "domains/3"
// Anything else (unknown paths) parses as the mail route without a folder (→ Inbox).

export type ComposeMode = "new" | "draft" | "reply" | "replyall" | "forward";

export interface ComposeParams {
  mode: ComposeMode;
  /** draft id for "draft", message id for reply/replyall/forward, null for "new". */
  id: number | null;
  /** prefilled recipient for "new" (from ?to=), else "". */
  to: string;
}

/** The quick views of the folder pane: 안읽은메일, 중요메일, 첨부메일. */
export type QuickView = "unread" | "flagged" | "attachments";
export const QUICK_VIEWS: readonly QuickView[] = ["unread", "flagged", "attachments"];

export type Route =
  | { kind: "mail"; folderId: number | null; messageId: number | null }
  | { kind: "view"; view: QuickView; messageId: number | null }
  | { kind: "search"; q: string; folderId: number | null; messageId: number | null }
  | { kind: "compose"; params: ComposeParams }
  | { kind: "settings"; section: string | null }
  | { kind: "contacts" }
  | { kind: "outbox" }
  | { kind: "admin"; path: string };

export const INBOX_ROUTE: Route = { kind: "mail", folderId: null, messageId: null };

const MAIL = /^\/folders\/(\d{1,15})(?:\/messages\/(\d{1,15}))?\/?$/;
const VIEW = /^\/views\/(unread|flagged|attachments)(?:\/messages\/(\d{1,15}))?\/?$/;
const SEARCH = /^\/search(?:\/messages\/(\d{1,15}))?\/?$/;
const SETTINGS = /^\/settings(?:\/([A-Za-z0-9_-]{1,40}))?\/?$/;
const ADMIN = /^\/admin(?:\/(.*))?$/;
const COMPOSE = /^\/compose\/?$/;

function positiveId(value: string | null): number | null {
  if (value === null || !/^\d{1,15}$/.test(value)) return null;
  const n = Number(value);
  return n > 0 ? n : null;
}

/** Parses a location (pathname plus search string, with or without "?"). */
export function parseRoute(pathname: string, search = ""): Route {
  const params = new URLSearchParams(search);
  let m = MAIL.exec(pathname);
  if (m) {
    return { kind: "mail", folderId: positiveId(m[1] ?? null), messageId: positiveId(m[2] ?? null) };
  }
  m = VIEW.exec(pathname);
  if (m) return { kind: "view", view: m[1] as QuickView, messageId: positiveId(m[2] ?? null) };
  m = SEARCH.exec(pathname);
  if (m) {
    return {
      kind: "search",
      q: (params.get("q") ?? "").slice(0, 200),
      folderId: positiveId(params.get("folder")),
      messageId: positiveId(m[1] ?? null),
    };
  }
  if (COMPOSE.test(pathname)) {
    const modes: readonly Exclude<ComposeMode, "new">[] = ["draft", "reply", "replyall", "forward"];
    for (const mode of modes) {
      const id = positiveId(params.get(mode));
      if (id !== null) return { kind: "compose", params: { mode, id, to: "" } };
    }
    return { kind: "compose", params: { mode: "new", id: null, to: (params.get("to") ?? "").slice(0, 998) } };
  }
  m = SETTINGS.exec(pathname);
  if (m) return { kind: "settings", section: m[1] ?? null };
  if (/^\/contacts\/?$/.test(pathname)) return { kind: "contacts" };
  if (/^\/outbox\/?$/.test(pathname)) return { kind: "outbox" };
  m = ADMIN.exec(pathname);
  if (m) return { kind: "admin", path: (m[1] ?? "").replace(/\/+$/, "") };
  return INBOX_ROUTE;
}

function withQuery(path: string, query: Record<string, string | number | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== "") params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The URL (path + query) of a route; parseRoute(routeHref(r)) gives r back. */
export function routeHref(route: Route): string {
  switch (route.kind) {
    case "mail": {
      if (route.folderId === null) return "/";
      const base = `/folders/${route.folderId}`;
      return route.messageId === null ? base : `${base}/messages/${route.messageId}`;
    }
    case "view":
      return route.messageId === null ? `/views/${route.view}` : `/views/${route.view}/messages/${route.messageId}`;
    case "search":
      return withQuery(route.messageId === null ? "/search" : `/search/messages/${route.messageId}`, {
        q: route.q,
        folder: route.folderId,
      });
    case "compose": {
      const { mode, id, to } = route.params;
      if (mode === "new") return withQuery("/compose", { to });
      return withQuery("/compose", { [mode]: id });
    }
    case "settings":
      return route.section === null ? "/settings" : `/settings/${route.section}`;
    case "admin":
      return route.path === "" ? "/admin" : `/admin/${route.path}`;
    case "contacts":
      return "/contacts";
    case "outbox":
      return "/outbox";
  }
}

/** Kept for older callers: the path of a route (same as routeHref). */
export const routePath = routeHref;

/** The route of the list a message was opened from, with another (or no) message open. */
export function withMessage(route: Route, messageId: number | null): Route {
  if (route.kind === "mail" || route.kind === "search" || route.kind === "view") return { ...route, messageId };
  return route;
}

export function composeRoute(mode: ComposeMode = "new", id: number | null = null, to = ""): Route {
  return { kind: "compose", params: { mode, id, to } };
}
