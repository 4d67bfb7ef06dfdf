// The bar above the panes: app name, who is signed in, language, sign out.
import type { SessionUser } from "../../api/session";
import { useI18n } from "../../i18n/I18nContext";
import { LOCALES, type Locale } from "../../i18n/messages";

const LOCALE_NAMES: Readonly<Record<Locale, string>> = { ko: "한국어", en: "English" };

export function TopBar({ user, onSignOut }: { user: SessionUser; onSignOut: () => void }) {
  const { t, locale, setLocale } = useI18n();
  return (
    <header className="topbar">
      <span className="brand">{t("appName")}</span>
      <span className="user" title={user.address}>
        {user.display_name || user.address}
      </span>
      <label className="language">
        <span className="visually-hidden">{t("header.language")}</span>
        <select
          value={locale}
          onChange={(e) => setLocale(e.target.value as Locale)}
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
