// Where the account is signed in: each browser (device, IP, last use) and the API token, each
// with its own sign-out; and "sign out everywhere": every session and the API token are
// revoked, this one too, so the page reloads to the sign-in screen afterwards.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { formatFullDate } from "../../lib/formatDate";
import { endSession, listSessions, signOutEverywhere, type ActiveSessions } from "./settingsApi";

function ActiveList({ onSignedOut }: { onSignedOut: () => void }) {
  const { t, locale } = useI18n();
  const [data, setData] = useState<ActiveSessions | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    listSessions(abort.signal).then(setData, (err: unknown) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, [attempt]);

  const end = (id: number | "token", current: boolean): void => {
    setError(null);
    endSession(id).then(
      () => (current ? onSignedOut() : setAttempt((n) => n + 1)),
      (err: unknown) => setError(err),
    );
  };
  const seen = (at: string | null): string => (at ? formatFullDate(at, locale) : "—");

  if (data === null) return error !== null ? <ErrorNotice error={error} /> : null;
  return (
    <>
      <ul className="active-sessions" data-testid="active-sessions">
        {data.sessions.map((s) => (
          <li key={s.id} data-testid={`session-${s.id}`}>
            <span>
              <strong>{s.browser}</strong>
              {s.current && <> · {t("sessions.current")}</>}
              <br />
              {s.ip} · {t("sessions.lastSeen", { when: seen(s.last_seen_at) })}
            </span>
            <button type="button" onClick={() => end(s.id, s.current)} data-testid={`session-end-${s.id}`}>
              {t("sessions.end")}
            </button>
          </li>
        ))}
        {data.token !== null && (
          <li data-testid="session-token">
            <span>
              <strong>{t("sessions.token")}</strong> ({data.token.browser})
              <br />
              {data.token.ip} · {t("sessions.lastSeen", { when: seen(data.token.last_seen_at) })}
            </span>
            <button type="button" onClick={() => end("token", false)} data-testid="session-end-token">
              {t("sessions.endToken")}
            </button>
          </li>
        )}
      </ul>
      {error !== null && <ErrorNotice error={error} />}
    </>
  );
}

export function SessionsSection({ onSignedOut }: { onSignedOut: () => void }) {
  const { t } = useI18n();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const go = (): void => {
    setBusy(true);
    setError(null);
    signOutEverywhere().then(onSignedOut, (err: unknown) => {
      setBusy(false);
      setError(err);
    });
  };
  return (
    <section id="settings-sessions" className="settings-section" aria-labelledby="settings-sessions-title">
      <h2 id="settings-sessions-title">{t("settings.sessions")}</h2>
      <ActiveList onSignedOut={onSignedOut} />
      <p className="help">{t("settings.signOutEverywhereHelp")}</p>
      {confirming ? (
        <p className="confirm">
          {t("settings.signOutEverywhereConfirm")}{" "}
          <button type="button" onClick={go} disabled={busy} data-testid="sign-out-everywhere-yes">
            {t("settings.signOutEverywhere")}
          </button>{" "}
          <button type="button" onClick={() => setConfirming(false)} disabled={busy}>
            {t("settings.cancel")}
          </button>
        </p>
      ) : (
        <button type="button" onClick={() => setConfirming(true)} data-testid="sign-out-everywhere">
          {t("settings.signOutEverywhere")}
        </button>
      )}
      {error !== null && <ErrorNotice error={error} />}
    </section>
  );
}
