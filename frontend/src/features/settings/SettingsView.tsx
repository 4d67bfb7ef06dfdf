// The settings screen (/settings[/{section}]): profile and signature, language, page size and
// remote images, password, app passwords, signing out everywhere. All sections are on one
// page; the section in the URL is scrolled into view.
import { useEffect, useRef, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import { AppPasswordsSection } from "./AppPasswordsSection";
import { BlockedSendersSection } from "./BlockedSendersSection";
import { OutboxSettingsSection } from "../outbox/OutboxSettingsSection";
import { SentLargeFiles } from "../largefiles/SentLargeFiles";
import { FetchAccountsSection } from "./FetchAccountsSection";
import { LoginHistorySection } from "./LoginHistorySection";
import { ForwardingSection } from "./ForwardingSection";
import { PasswordSection } from "./PasswordSection";
import { Pop3Section } from "./Pop3Section";
import { PreferencesSection } from "./PreferencesSection";
import { ProfileSection } from "./ProfileSection";
import { RulesSection } from "./RulesSection";
import { SessionsSection } from "./SessionsSection";
import { TwoFactorSection } from "./TwoFactorSection";
import { loadSettings, type UserSettings } from "./settingsApi";
import { VacationSection } from "./VacationSection";
import "./settings.css";

export interface SettingsViewProps {
  onClose: () => void;
  /** The section named in the URL (profile, preferences, password, app-passwords, pop3, sessions,
   * login-history). */
  section?: string | null;
  onNavigate?: (section: string | null) => void;
  /** After "sign out everywhere"; defaults to reloading the app at / (the sign-in screen). */
  onSignedOut?: () => void;
}

export const SECTIONS: readonly { id: string; key: MessageKey }[] = [
  { id: "profile", key: "settings.profile" },
  { id: "preferences", key: "settings.preferences" },
  { id: "password", key: "settings.password" },
  { id: "app-passwords", key: "settings.appPasswords" },
  { id: "pop3", key: "settings.pop3" },
  { id: "fetch", key: "settings.fetch" },
  { id: "rules", key: "settings.rules" },
  { id: "blocked", key: "settings.blocked" },
  { id: "forwarding", key: "settings.forwarding" },
  { id: "vacation", key: "settings.vacation" },
  { id: "outbox", key: "settings.outbox" },
  { id: "two-factor", key: "twoFactor.title" },
  { id: "sessions", key: "settings.sessions" },
  { id: "login-history", key: "loginHistory.title" },
];

export function SettingsView({ onClose, section = null, onNavigate, onSignedOut }: SettingsViewProps) {
  const t = useT();
  const [settings, setSettings] = useState<UserSettings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let live = true;
    setError(null);
    loadSettings(true).then(
      (s) => live && setSettings(s),
      (err: unknown) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [attempt]);

  useEffect(() => {
    if (!settings || !section) return;
    const target = document.getElementById(`settings-${section}`);
    if (target && root.current?.contains(target)) target.scrollIntoView?.({ block: "start" });
  }, [section, settings]);

  const signedOut = onSignedOut ?? ((): void => window.location.assign("/"));

  return (
    <div className="settings-view" ref={root} role="region" aria-labelledby="settings-title">
      <header className="settings-header">
        <h1 id="settings-title">{t("settings.title")}</h1>
        <button type="button" onClick={onClose} data-testid="settings-close">
          {t("settings.close")}
        </button>
      </header>
      <nav className="settings-nav" aria-label={t("settings.sections")}>
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.id}>
              <a
                href={`/settings/${s.id}`}
                aria-current={section === s.id ? "true" : undefined}
                onClick={(e) => {
                  if (!onNavigate) return;
                  e.preventDefault();
                  onNavigate(s.id);
                }}
              >
                {t(s.key)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div className="settings-body">
        {error !== null ? (
          <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />
        ) : settings === null ? (
          <p className="loading">{t("loading")}</p>
        ) : (
          <>
            <ProfileSection settings={settings} onSaved={setSettings} />
            <PreferencesSection settings={settings} onSaved={setSettings} />
            <PasswordSection />
            <AppPasswordsSection />
            <Pop3Section />
            <FetchAccountsSection />
            <RulesSection />
            <BlockedSendersSection />
            <ForwardingSection />
            <VacationSection />
            <OutboxSettingsSection />
            <SentLargeFiles showEmpty />
            <TwoFactorSection />
            <SessionsSection onSignedOut={signedOut} />
            <LoginHistorySection />
          </>
        )}
      </div>
    </div>
  );
}
