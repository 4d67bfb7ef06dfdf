// POP3 (issue 11): what a POP3 client's delete does on the server (delete, keep, keep and
// mark read) and whether mail downloaded before is offered again. Saved as soon as chosen.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { loadPop3Settings, POP3_DELETE_POLICIES, savePop3Settings, type Pop3Settings } from "./settingsApi";

export function Pop3Section() {
  const t = useT();
  const [shown, setShown] = useState<Pop3Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    loadPop3Settings(controller.signal).then(setShown, (err: unknown) => {
      if (!controller.signal.aborted) setError(err);
    });
    return () => controller.abort();
  }, [attempt]);

  const save = (patch: Partial<Pop3Settings>): void => {
    if (!shown) return;
    const before = shown;
    setShown({ ...shown, ...patch });
    setError(null);
    setSaved(false);
    savePop3Settings(patch).then(
      (next) => {
        setShown(next);
        setSaved(true);
      },
      (err: unknown) => {
        setShown(before);
        setError(err);
      },
    );
  };

  return (
    <section id="settings-pop3" className="settings-section" aria-labelledby="settings-pop3-title">
      <h2 id="settings-pop3-title">{t("settings.pop3")}</h2>
      {shown === null ? (
        error !== null ? (
          <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />
        ) : (
          <p className="loading">{t("loading")}</p>
        )
      ) : (
        <>
          <div className="field">
            <label htmlFor="settings-pop3-delete">{t("settings.pop3Delete")}</label>
            <select
              id="settings-pop3-delete"
              value={shown.on_delete}
              onChange={(e) => save({ on_delete: e.target.value as Pop3Settings["on_delete"] })}
              data-testid="settings-pop3-delete"
            >
              {POP3_DELETE_POLICIES.map((p) => (
                <option key={p} value={p}>
                  {t(`settings.pop3Delete.${p}`)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label>
              <input
                type="checkbox"
                checked={shown.only_new}
                onChange={(e) => save({ only_new: e.target.checked })}
                data-testid="settings-pop3-only-new"
              />{" "}
              {t("settings.pop3OnlyNew")}
            </label>
          </div>
          {error !== null && <ErrorNotice error={error} />}
          {saved && <span role="status">{t("settings.saved")}</span>}
        </>
      )}
    </section>
  );
}
