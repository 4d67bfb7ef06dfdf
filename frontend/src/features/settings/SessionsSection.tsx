// "Sign out everywhere": every session and API token of the user is revoked, this one too,
// so the page reloads to the sign-in screen afterwards.
import { useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { signOutEverywhere } from "./settingsApi";

export function SessionsSection({ onSignedOut }: { onSignedOut: () => void }) {
  const t = useT();
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
