// The bar above the panes: menu button (phones), app name, the search box (this folder or
// all folders), help, settings, admin console (for admins), language, sign out.
import { useEffect, useState, type FormEvent, type MouseEvent, type RefObject } from "react";
import { patchShellSettings } from "../../api/mail";
import type { Folder } from "../../api/folders";
import type { SessionUser } from "../../api/session";
import { useI18n } from "../../i18n/I18nContext";
import { LOCALES, type Locale } from "../../i18n/messages";
import { routeHref, type Route } from "../../lib/route";
import { useNavigate } from "../../lib/useRoute";
import { DetailedSearch } from "../search/DetailedSearch";

const LOCALE_NAMES: Readonly<Record<Locale, string>> = { ko: "한국어", en: "English" };

interface Props {
  user: SessionUser;
  route: Route;
  /** the folder the user is looking at (scope "this folder"), with its display name */
  folder: { id: number; name: string } | null;
  drawerOpen: boolean;
  searchRef: RefObject<HTMLInputElement | null>;
  /** for detailed search's folder choice */
  folders?: readonly Folder[];
  onMenu: () => void;
  onHelp: () => void;
  onSignOut: () => void;
}

/** Superadmins and domain admins get the console link (their rights come with the session). */
export function isAdmin(user: SessionUser): boolean {
  return user.is_superadmin || user.admin_domains.length > 0;
}

export function TopBar({ user, route, folder, drawerOpen, searchRef, folders = [], onMenu, onHelp, onSignOut }: Props) {
  const { t, locale, setLocale } = useI18n();
  const navigate = useNavigate();
  const routeQ = route.kind === "search" ? route.q : "";
  const [q, setQ] = useState(routeQ);
  const [scope, setScope] = useState<"all" | "folder">(route.kind === "search" && route.folderId !== null ? "folder" : "all");
  useEffect(() => setQ(routeQ), [routeQ]);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const text = q.trim().slice(0, 200);
    if (!text) return;
    const folderId = scope === "folder" ? (route.kind === "search" ? route.folderId : folder?.id ?? null) : null;
    navigate({ kind: "search", q: text, folderId, messageId: null });
  };

  const link = (to: Route) => ({
    href: routeHref(to),
    onClick: (e: MouseEvent) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(to);
    },
  });

  return (
    <header className="topbar">
      <button
        type="button"
        className="menu-button"
        aria-label={t("shell.menu")}
        aria-expanded={drawerOpen}
        aria-controls="folder-pane"
        onClick={onMenu}
        data-testid="menu-button"
      >
        ☰
      </button>
      <a className="brand" {...link({ kind: "mail", folderId: null, messageId: null })}>
        {t("appName")}
      </a>
      <form role="search" className="search" onSubmit={submit} aria-label={t("search.title")}>
        <input
          ref={searchRef}
          type="search"
          value={q}
          maxLength={200}
          onChange={(e) => setQ(e.target.value)}
          placeholder={t("search.placeholder")}
          aria-label={t("search.label")}
          data-testid="search-input"
        />
        <select
          value={scope}
          onChange={(e) => setScope(e.target.value === "folder" ? "folder" : "all")}
          aria-label={t("search.scope")}
          data-testid="search-scope"
        >
          <option value="all">{t("search.allFolders")}</option>
          {(folder !== null || (route.kind === "search" && route.folderId !== null)) && (
            <option value="folder">{folder ? t("search.inFolder", { name: folder.name }) : t("search.thisFolder")}</option>
          )}
        </select>
        <button type="submit" data-testid="search-submit">
          {t("search.submit")}
        </button>
      </form>
      <DetailedSearch
        folders={folders}
        q={routeQ}
        folderId={route.kind === "search" ? route.folderId : null}
        onSearch={(text, folderId) => navigate({ kind: "search", q: text, folderId, messageId: null })}
      />
      <span className="user" title={user.address}>
        {user.display_name || user.address}
      </span>
      <button type="button" className="help-button" onClick={onHelp} aria-label={t("shortcuts.title")} title={t("shortcuts.title")}>
        ?
      </button>
      <a className="contacts-link" {...link({ kind: "contacts" })} data-testid="contacts-link">
        {t("shell.contacts")}
      </a>
      <a className="settings-link" {...link({ kind: "settings", section: null })} data-testid="settings-link">
        {t("shell.settings")}
      </a>
      {isAdmin(user) && (
        <a className="admin-link" {...link({ kind: "admin", path: "" })} data-testid="admin-link">
          {t("shell.admin")}
        </a>
      )}
      <label className="language">
        <span className="visually-hidden">{t("header.language")}</span>
        <select
          value={locale}
          onChange={(e) => {
            const next = e.target.value as Locale;
            setLocale(next);
            // Remembered on the server too, so another browser opens in the same language.
            patchShellSettings({ language: next }).catch(() => undefined);
          }}
          data-testid="language-select"
        >
          {LOCALES.map((l) => (
            <option key={l} value={l}>
              {LOCALE_NAMES[l]}
            </option>
          ))}
        </select>
      </label>
      <button type="button" onClick={onSignOut} data-testid="sign-out">
        {t("header.signOut")}
      </button>
    </header>
  );
}
