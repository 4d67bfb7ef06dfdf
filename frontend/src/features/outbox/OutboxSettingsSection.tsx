// Settings → 보내기: the undo-send window and who may see when I read their mail.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { getOutboxSettings, saveOutboxSettings, type OutboxSettings } from "./outboxApi";

const UNDO = [0, 5, 10, 20, 30] as const;

export function OutboxSettingsSection() {
  const t = useT();
  const [shown, setShown] = useState<OutboxSettings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    getOutboxSettings(abort.signal).then(setShown, (err: unknown) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, []);

  const save = (patch: Partial<OutboxSettings>): void => {
    setSaved(false);
    setError(null);
    saveOutboxSettings(patch).then(
      (next) => {
        setShown(next);
        setSaved(true);
      },
      (err: unknown) => setError(err),
    );
  };
  const share = shown?.share_read_status;
  return (
    <section id="settings-outbox" className="settings-section" aria-labelledby="settings-outbox-title">
      <h2 id="settings-outbox-title">{t("settings.outbox")}</h2>
      {shown === null ? (
        error !== null ? <ErrorNotice error={error} /> : <p className="loading">{t("loading")}</p>
      ) : (
        <>
          <div className="field">
            <label htmlFor="settings-outbox-undo">{t("outbox.settings.undo")}</label>
            <select
              id="settings-outbox-undo"
              value={shown.undo_seconds ?? 10}
              onChange={(e) => save({ undo_seconds: Number(e.target.value) as (typeof UNDO)[number] })}
              data-testid="settings-outbox-undo"
            >
              {UNDO.map((n) => (
                <option key={n} value={n}>
                  {n === 0 ? t("outbox.settings.undoOff") : t("outbox.settings.seconds", { seconds: n })}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="settings-outbox-share">{t("outbox.settings.share")}</label>
            <select
              id="settings-outbox-share"
              value={share === null || share === undefined ? "" : share ? "on" : "off"}
              onChange={(e) => save({ share_read_status: e.target.value === "" ? null : e.target.value === "on" })}
              data-testid="settings-outbox-share"
            >
              <option value="">{t("outbox.settings.shareDefault")}</option>
              <option value="on">{t("outbox.settings.shareOn")}</option>
              <option value="off">{t("outbox.settings.shareOff")}</option>
            </select>
          </div>
          {error !== null && <ErrorNotice error={error} />}
          {saved && <span role="status">{t("outbox.settings.saved")}</span>}
        </>
      )}
    </section>
  );
}
