// The signed-in screen, driven by the URL (lib/route.ts): top bar, folders | list | message
// on a desktop, one pane at a time on a phone (folders in a drawer). Compose, settings and
// the admin console are lazy-loaded screens in place of list and message. Also here: live
// updates, keyboard shortcuts and the document title.
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { MessageDetail } from "../../api/messages";
import type { SessionUser } from "../../api/session";
import { ConfirmDialog } from "../../components/Dialog";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { singleLine } from "../../lib/plainText";
import { composeRoute, withMessage, type Route } from "../../lib/route";
import { NavigateContext, useRoute } from "../../lib/useRoute";
import { folderDisplayName } from "../mailbox-list/folderName";
import { MailboxList } from "../mailbox-list/MailboxList";
import { useFolders } from "../mailbox-list/useFolders";
import { BulkToolbar, type BulkCommand } from "../message-list/BulkToolbar";
import { MessageList } from "../message-list/MessageList";
import { QuickViewList, VIEW_LABEL } from "../quick-views/QuickViewList";
import { leavingRows, viewAccepts } from "../quick-views/viewFilter";
import { EMPTY_SELECTION, allState, prune, selectAll, toggleOne, type Selection } from "../message-list/selection";
import { useBulkActions } from "../message-list/useBulkActions";
import { useMessageList, type ListSource } from "../message-list/useMessageList";
import { ConversationToggle } from "../conversation/ConversationToggle";
import { ConversationView } from "../conversation/ConversationView";
import { MessageView } from "../message-view/MessageView";
import { useMessage } from "../message-view/useMessage";
import { effectsOf, type LiveEvent } from "./liveEvents";
import { shortcutFor, type ShortcutCommand } from "./shortcuts";
import { ShortcutHelp } from "./ShortcutHelp";
import { HighlightProvider } from "../search/Highlight";
import { OutboxLink } from "../outbox/OutboxLink";
import { TopBar } from "./TopBar";
import { useLive } from "./useLive";
import { useShellSettings } from "./useShellSettings";
import { VacationBanner } from "./VacationBanner";
import { SendingHoldBanner } from "./SendingHoldBanner";
import "./shell.css";

// Split out of the first load: most sessions read mail and never open these.
const OutboxView = lazy(() => import("../outbox/OutboxView").then((m) => ({ default: m.OutboxView })));
const ComposeView = lazy(() => import("../compose/ComposeView").then((m) => ({ default: m.ComposeView })));
const SettingsView = lazy(() => import("../settings/SettingsView").then((m) => ({ default: m.SettingsView })));
const ContactsView = lazy(() => import("../contacts/ContactsView").then((m) => ({ default: m.ContactsView })));
const AdminView = lazy(() => import("../admin/AdminView").then((m) => ({ default: m.AdminView })));

interface Props {
  user: SessionUser;
  onSignOut: () => void;
}

const INBOX: Route = { kind: "mail", folderId: null, messageId: null };

function listSource(route: Route, grouped = false): ListSource | null {
  if (route.kind === "mail" && route.folderId !== null) return { kind: "folder", folderId: route.folderId, grouped };
  if (route.kind === "view") return { kind: "view", view: route.view };
  if (route.kind === "search" && route.q.trim() !== "") return { kind: "search", q: route.q.trim(), folderId: route.folderId };
  return null;
}

export function MailLayout({ user, onSignOut }: Props) {
  const t = useT();
  const [route, navigate] = useRoute();
  const { folders, error: foldersError, reload: reloadFolders, adjustUnread, updateCounts } = useFolders();
  const [settingsVersion, setSettingsVersion] = useState(0);
  const { pageSize, listDensity, readingMode, grouped, setGrouped } = useShellSettings(settingsVersion);
  const [drawerOpen, setDrawerOpen] = useState(false);
  const [helpOpen, setHelpOpen] = useState(false);
  const [selected, setSelected] = useState<{ key: string; value: Selection } | null>(null);
  // The keyboard cursor and the selection belong to the list they were made in: another list
  // has none. Derived from the list's key rather than reset by an effect, so that a key or
  // click that comes before such an effect has run is never undone by it.
  const [cursor, setCursor] = useState<{ key: string; id: number } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<readonly number[] | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const lastListRoute = useRef<Route>(INBOX);

  const isList = route.kind === "mail" || route.kind === "search" || route.kind === "view";
  if (isList) lastListRoute.current = withMessage(route, null);
  const openId = isList ? route.messageId : null;

  // "/" (or a folder that is gone) opens the Inbox, as Naver and Gmail do.
  const inbox = folders?.find((f) => f.special_use === "inbox") ?? folders?.[0] ?? null;
  useEffect(() => {
    if (!folders || route.kind !== "mail") return;
    if (route.folderId !== null && folders.some((f) => f.id === route.folderId)) return;
    if (inbox) navigate({ kind: "mail", folderId: inbox.id, messageId: null }, true);
  }, [folders, inbox, route, navigate]);

  // The drawer (phones): focus goes into it on open and back to the menu button on close.
  const drawerWasOpen = useRef(false);
  useEffect(() => {
    if (drawerOpen) {
      const pane = document.getElementById("folder-pane");
      (pane?.querySelector<HTMLElement>('a[aria-current="page"]') ?? pane?.querySelector<HTMLElement>("a, button"))?.focus();
    } else if (drawerWasOpen.current) {
      document.querySelector<HTMLElement>('[data-testid="menu-button"]')?.focus();
    }
    drawerWasOpen.current = drawerOpen;
  }, [drawerOpen]);

  // Leaving the settings screen: page size or language may have changed.
  const wasSettings = useRef(false);
  useEffect(() => {
    if (wasSettings.current && route.kind !== "settings") setSettingsVersion((n) => n + 1);
    wasSettings.current = route.kind === "settings";
  }, [route.kind]);

  const source = listSource(route, grouped);
  const viewFilter = useMemo(() => {
    if (route.kind !== "view") return null;
    const hidden = new Set((folders ?? []).filter((f) => f.special_use === "trash" || f.special_use === "junk").map((f) => f.id));
    return viewAccepts(route.view, hidden);
  }, [route, folders]);
  const list = useMessageList(source, pageSize, viewFilter);
  const { items } = list.state;
  const listKey = list.state.key;
  const activeId = cursor !== null && cursor.key === listKey ? cursor.id : null;
  const listKeyRef = useRef(listKey);
  listKeyRef.current = listKey;
  const setActiveId = useCallback((id: number | null) => {
    setCursor(id === null ? null : { key: listKeyRef.current, id });
  }, []);
  const selection = selected !== null && selected.key === listKey ? selected.value : EMPTY_SELECTION;
  const setSelection = useCallback((next: Selection | ((s: Selection) => Selection)) => {
    setSelected((st) => {
      const key = listKeyRef.current;
      const current = st !== null && st.key === key ? st.value : EMPTY_SELECTION;
      const value = typeof next === "function" ? next(current) : next;
      return st !== null && st.key === key && value === current ? st : { key, value };
    });
  }, []);
  const currentFolderId = route.kind === "mail" ? route.folderId : route.kind === "search" ? route.folderId : null;
  const currentFolder = folders?.find((f) => f.id === currentFolderId) ?? null;
  const recipientFolders = useMemo(
    () => new Set((folders ?? []).filter((f) => f.special_use === "sent" || f.special_use === "drafts").map((f) => f.id)),
    [folders],
  );
  const showsRecipients = useCallback((id: number) => recipientFolders.has(id), [recipientFolders]);
  const folderLabel = useCallback(
    (id: number): string => {
      const f = folders?.find((x) => x.id === id);
      return f ? singleLine(folderDisplayName(f, t)) : "";
    },
    [folders, t],
  );

  // A new list: the drawer closes (cursor and selection: see above).
  useEffect(() => setDrawerOpen(false), [listKey]);
  // A quick view follows its filter: rows that stopped matching leave (the open one when the
  // reader moves on).
  useEffect(() => {
    if (viewFilter === null) return;
    const gone = leavingRows(items, viewFilter, openId);
    if (gone.length > 0) list.dispatch({ type: "remove", ids: gone, folderId: null });
  }, [items, viewFilter, openId, list.dispatch]);
  // Rows that left the list leave the selection.
  useEffect(() => setSelection((s) => prune(s, items.map((m) => m.id))), [items, setSelection]);
  useEffect(() => {
    if (openId !== null) setActiveId(openId);
  }, [openId, setActiveId]);

  const onSeen = useCallback(
    (m: MessageDetail) => {
      list.dispatch({ type: "flags", ids: [m.id], add: ["seen"], remove: [] });
      adjustUnread(m.folder, -1);
    },
    [list.dispatch, adjustUnread],
  );
  const { message, error: messageError, retry } = useMessage(openId, onSeen);
  // The list row is kept live (events, shortcuts): its flags win over the loaded detail's.
  const row = message ? items.find((m) => m.id === message.id) : undefined;
  const shown = message && row ? { ...message, flags: row.flags } : message;

  // A draft opens in the editor (Naver, Gmail); any other message in the reading pane.
  const draftsId = folders?.find((f) => f.special_use === "drafts")?.id ?? null;
  const open = useCallback(
    (id: number) => {
      const item = items.find((m) => m.id === id);
      if (item && draftsId !== null && item.folder === draftsId) navigate(composeRoute("draft", id));
      else navigate(withMessage(route, id));
    },
    [navigate, route, items, draftsId],
  );
  const closeMessage = useCallback(() => navigate(withMessage(route, null)), [navigate, route]);

  /** After rows left the list: open the next one if one of them was open (Gmail). */
  const afterRemoved = useCallback(
    (ids: readonly number[]) => {
      if (openId === null || !ids.includes(openId)) return;
      const gone = new Set(ids);
      const at = items.findIndex((m) => m.id === openId);
      const next = items.slice(at + 1).find((m) => !gone.has(m.id)) ?? items.slice(0, at).reverse().find((m) => !gone.has(m.id));
      navigate(withMessage(route, next ? next.id : null), true);
    },
    [openId, items, navigate, route],
  );

  const onDone = useCallback(
    (command: BulkCommand, ids: readonly number[]) => {
      reloadFolders();
      if (command.kind === "delete" || command.kind === "move" || command.kind === "spam") {
        setSelection(EMPTY_SELECTION);
        afterRemoved(ids);
      }
    },
    [reloadFolders, afterRemoved],
  );
  const bulk = useBulkActions({ items, dispatch: list.dispatch, upsert: list.upsert, onDone });

  const command = useCallback(
    (c: BulkCommand, ids: readonly number[]) => {
      if (ids.length === 0) return;
      // Delete in Trash is for good: ask first. Elsewhere it only moves to Trash.
      if (c.kind === "delete" && currentFolder?.special_use === "trash") setConfirmDelete(ids);
      else bulk.run(c, ids);
    },
    [bulk, currentFolder],
  );

  // Live updates and the polling fallback.
  const liveRef = useRef({ items, source });
  liveRef.current = { items, source };
  const onEvent = useCallback(
    (event: LiveEvent) => {
      if (event.type === "counts") {
        updateCounts(event.folders);
        return;
      }
      const { items: rows, source: src } = liveRef.current;
      if (src?.kind === "view" && event.kind !== "folder" && event.kind !== "expunge") {
        // A quick view spans folders: any row named may now join or leave it.
        list.refresh(event.messageIds);
        return;
      }
      const effects = effectsOf(event, {
        folderId: src?.kind === "folder" ? src.folderId : null,
        loaded: new Set(rows.map((m) => m.id)),
      });
      for (const effect of effects) {
        if (effect.kind === "refresh") list.refresh(effect.ids);
        else if (effect.kind === "remove") list.dispatch({ type: "remove", ids: effect.ids, folderId: effect.folderId });
        else reloadFolders();
      }
    },
    [updateCounts, list.refresh, list.dispatch, reloadFolders],
  );
  const onPoll = useCallback(() => {
    reloadFolders();
    list.pollHead();
  }, [reloadFolders, list.pollHead]);
  useLive({ onEvent, onPoll });

  // "(3) 받은메일함 - Mailroom": unread Inbox count, then where the user is.
  const unreadInbox = inbox?.unread ?? 0;
  const place =
    route.kind === "mail"
      ? currentFolder
        ? singleLine(folderDisplayName(currentFolder, t))
        : ""
      : route.kind === "view"
        ? t(VIEW_LABEL[route.view])
        : route.kind === "search"
        ? t("search.resultsFor", { q: singleLine(route.q) })
        : route.kind === "compose"
          ? t("shell.compose")
          : route.kind === "settings"
            ? t("shell.settings")
            : route.kind === "contacts"
              ? t("shell.contacts")
              : route.kind === "outbox"
                ? t("outbox.title")
                : t("shell.admin");
  useEffect(() => {
    const parts = [place, t("appName")].filter(Boolean).join(" - ");
    document.title = unreadInbox > 0 ? `(${unreadInbox}) ${parts}` : parts;
  }, [unreadInbox, place, t]);

  // Keyboard shortcuts (Gmail's), not while typing or while a dialog is open.
  const shortcutRef = useRef<(c: ShortcutCommand, e: KeyboardEvent) => void>(() => undefined);
  shortcutRef.current = (c, e) => {
    const target = openId ?? activeId;
    const index = items.findIndex((m) => m.id === (openId ?? activeId));
    const step = (delta: number): void => {
      const next = items[index < 0 ? 0 : Math.min(items.length - 1, Math.max(0, index + delta))];
      if (!next) return;
      if (openId !== null) open(next.id);
      else setActiveId(next.id);
      // Near the end of what is loaded: fetch the next page (the grid does the same on scroll).
      if (index + delta >= items.length - 5) list.loadMore();
    };
    switch (c) {
      case "compose":
        navigate(composeRoute());
        break;
      case "reply":
      case "replyAll":
      case "forward":
        if (!isList || target === null) return;
        navigate(composeRoute(c === "replyAll" ? "replyall" : c, target));
        break;
      case "next":
        if (!isList) return;
        step(1);
        break;
      case "previous":
        if (!isList) return;
        step(-1);
        break;
      case "open":
        if (!isList || activeId === null || openId === activeId) return;
        open(activeId);
        break;
      case "select":
        if (!isList || activeId === null) return;
        setSelection((s) => toggleOne(s, activeId));
        break;
      case "delete": {
        if (!isList) return;
        const ids = selection.ids.size > 0 ? [...selection.ids] : target !== null ? [target] : [];
        command({ kind: "delete" }, ids);
        break;
      }
      case "star": {
        if (!isList || target === null) return;
        const m = items.find((x) => x.id === target);
        if (m) bulk.run({ kind: m.flags.flagged ? "unstar" : "star" }, [target]);
        break;
      }
      case "search":
        searchRef.current?.focus();
        searchRef.current?.select();
        break;
      case "help":
        setHelpOpen(true);
        break;
      case "back":
        if (openId !== null) closeMessage();
        else if (!isList) navigate(lastListRoute.current);
        break;
      case "escape":
        if (drawerOpen) setDrawerOpen(false);
        else if (document.activeElement === searchRef.current) searchRef.current?.blur();
        else if (!isList) return;
        else if (openId !== null) closeMessage();
        else if (selection.ids.size > 0) setSelection(EMPTY_SELECTION);
        else return;
        break;
    }
    e.preventDefault();
  };
  const dialogOpen = helpOpen || confirmDelete !== null;
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (dialogOpen || e.defaultPrevented) return;
      // Compose and settings have their own fields and keys: only Escape-free globals there.
      const c = shortcutFor(e);
      if (c === null) return;
      if ((route.kind === "compose" || route.kind === "settings" || route.kind === "admin" || route.kind === "contacts" || route.kind === "outbox") && c !== "help" && c !== "search") return;
      shortcutRef.current(c, e);
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [dialogOpen, route.kind]);

  const order = useMemo(() => items.map((m) => m.id), [items]);
  const screenClose = useCallback(() => navigate(lastListRoute.current), [navigate]);
  const view = !isList ? "screen" : openId !== null ? "reading" : "listing";
  const emptyText =
    route.kind === "search" ? t("search.none") : route.kind === "view" ? t(`views.empty.${route.view}`) : t("list.empty");

  let screen: ReactNode = null;
  if (route.kind === "compose") {
    screen = <ComposeView params={route.params} onClose={screenClose} onSent={() => reloadFolders()} />;
  } else if (route.kind === "settings") {
    screen = (
      <SettingsView
        section={route.section}
        onClose={screenClose}
        onNavigate={(section) => navigate({ kind: "settings", section }, true)}
      />
    );
  } else if (route.kind === "contacts") {
    screen = <ContactsView />;
  } else if (route.kind === "outbox") {
    screen = <OutboxView />;
  } else if (route.kind === "admin") {
    screen = <AdminView path={route.path} onNavigate={(path) => navigate({ kind: "admin", path })} />;
  }

  return (
    <NavigateContext.Provider value={navigate}>
      <div
        className={`app ${view}${drawerOpen ? " drawer-open" : ""}${readingMode === "list" ? " list-only" : ""}${route.kind === "admin" ? " admin-shell" : ""}`}
      >
        <a className="skip-link" href="#main-content">
          {t("shell.skip")}
        </a>
        <TopBar
          user={user}
          route={route}
          folder={currentFolder ? { id: currentFolder.id, name: singleLine(folderDisplayName(currentFolder, t)) } : null}
          drawerOpen={drawerOpen}
          searchRef={searchRef}
          folders={folders ?? []}
          onMenu={() => setDrawerOpen((v) => !v)}
          onHelp={() => setHelpOpen(true)}
          onSignOut={onSignOut}
        />
        <VacationBanner
          refreshKey={route.kind}
          onSettings={() => navigate({ kind: "settings", section: "vacation" })}
        />
        <SendingHoldBanner refreshKey={route.kind} />
        <div className="panes">
          {drawerOpen && <div className="drawer-backdrop" onClick={() => setDrawerOpen(false)} aria-hidden="true" />}
          <aside className="pane pane-folders" id="folder-pane">
            {foldersError !== null && <ErrorNotice error={foldersError} onRetry={reloadFolders} />}
            {folders && (
              <MailboxList
                folders={folders}
                selectedId={route.kind === "mail" ? route.folderId : null}
                onSelect={(folderId) => {
                  setDrawerOpen(false);
                  navigate({ kind: "mail", folderId, messageId: null });
                }}
                onCompose={() => {
                  setDrawerOpen(false);
                  navigate(composeRoute());
                }}
                onChanged={(deletedId) => {
                  reloadFolders();
                  if (deletedId !== undefined && deletedId === currentFolderId) navigate(INBOX, true);
                  else list.reload();
                }}
                header={
                  <>
                    <QuickViewList
                      selected={route.kind === "view" ? route.view : null}
                      refreshKey={folders}
                      onSelect={(v) => {
                        setDrawerOpen(false);
                        navigate({ kind: "view", view: v, messageId: null });
                      }}
                    />
                    <OutboxLink
                      current={route.kind === "outbox"}
                      onOpen={() => {
                        setDrawerOpen(false);
                        navigate({ kind: "outbox" });
                      }}
                    />
                  </>
                }
              />
            )}
          </aside>
          {isList ? (
            // One main landmark around list and message: on a phone only one of them shows,
            // and each screen still has its main (display: contents keeps the panes' grid).
            <main className="panes-main">
              <section
                className="pane pane-list"
                aria-label={route.kind === "search" ? t("search.resultsFor", { q: singleLine(route.q) }) : place || t("list.title")}
                {...(openId === null ? { id: "main-content" } : {})}
              >
                {route.kind === "search" && (
                  <h1 className="list-heading">
                    <bdi>{t("search.resultsFor", { q: singleLine(route.q) })}</bdi>
                    {route.folderId !== null && currentFolder && (
                      <span className="scope"> · {singleLine(folderDisplayName(currentFolder, t))}</span>
                    )}
                  </h1>
                )}
                {route.kind === "mail" && currentFolder && (
                  <h1 className="list-heading visually-hidden">{place}</h1>
                )}
                {route.kind === "view" && <h1 className="list-heading">{place}</h1>}
                {route.kind === "mail" && <ConversationToggle on={grouped} onChange={setGrouped} />}
                <BulkToolbar
                  count={selection.ids.size}
                  all={allState(selection, order)}
                  folders={folders ?? []}
                  currentFolder={route.kind === "mail" ? currentFolder : null}
                  busy={bulk.busy}
                  onSelectAll={(on) => setSelection(on ? selectAll(order) : EMPTY_SELECTION)}
                  onCommand={(c) => command(c, [...selection.ids])}
                />
                {bulk.error !== null && <ErrorNotice error={bulk.error} onRetry={bulk.clearError} />}
                <HighlightProvider q={route.kind === "search" ? route.q : null}>
                <MessageList
                  state={list.state}
                  openId={openId}
                  activeId={activeId}
                  selection={selection}
                  folderNameOf={route.kind === "search" || route.kind === "view" ? folderLabel : null}
                  showsRecipients={showsRecipients}
                  density={listDensity}
                  emptyText={emptyText}
                  onOpen={open}
                  onActivate={setActiveId}
                  onSelectionChange={setSelection}
                  onStar={(id, on) => bulk.run({ kind: on ? "star" : "unstar" }, [id])}
                  onLoadMore={list.loadMore}
                />
                </HighlightProvider>
              </section>
              <section
                className="pane pane-message"
                aria-label={t("view.pane")}
                {...(openId !== null ? { id: "main-content" } : {})}
                tabIndex={-1}
              >
                {openId === null ? (
                  <p className="placeholder">{t("view.none")}</p>
                ) : messageError !== null ? (
                  <ErrorNotice error={messageError} onRetry={retry} />
                ) : shown === null ? (
                  <p className="loading">{t("loading")}</p>
                ) : row?.conversation && row.conversation.count > 1 ? (
                  <ConversationView
                    conversationId={row.conversation.id}
                    current={shown}
                    folderName={folderLabel}
                    onRead={reloadFolders}
                    renderMessage={(m, collapse) => (
                      <MessageView message={m.id === shown.id ? shown : m} onBack={collapse ?? closeMessage} onRemoved={() => list.reload()} />
                    )}
                  />
                ) : (
                  <MessageView
                    message={shown}
                    onBack={closeMessage}
                    onRemoved={(id) => {
                      list.dispatch({ type: "remove", ids: [id], folderId: null });
                      reloadFolders();
                      afterRemoved([id]);
                    }}
                    onFlagsChanged={(id, flags) => {
                      const add = (Object.keys(flags) as ("seen" | "flagged")[]).filter((k) => flags[k] === true);
                      const remove = (Object.keys(flags) as ("seen" | "flagged")[]).filter((k) => flags[k] === false);
                      list.dispatch({ type: "flags", ids: [id], add, remove });
                      reloadFolders();
                    }}
                  />
                )}
              </section>
            </main>
          ) : (
            <main className="pane pane-screen" id="main-content">
              <Suspense fallback={<p className="loading">{t("loading")}</p>}>{screen}</Suspense>
            </main>
          )}
        </div>
        {helpOpen && <ShortcutHelp onClose={() => setHelpOpen(false)} />}
        {confirmDelete !== null && (
          <ConfirmDialog
            title={t("bulk.deleteForever")}
            text={t("bulk.deleteForeverConfirm", { count: confirmDelete.length })}
            confirmLabel={t("bulk.deleteForever")}
            cancelLabel={t("common.cancel")}
            onCancel={() => setConfirmDelete(null)}
            onConfirm={() => {
              bulk.run({ kind: "delete" }, confirmDelete);
              setConfirmDelete(null);
            }}
          />
        )}
      </div>
    </NavigateContext.Provider>
  );
}
