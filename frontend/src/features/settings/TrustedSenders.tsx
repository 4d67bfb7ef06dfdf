// Senders whose remote images always show ("Always show from …" in the reader): list, remove.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import type { ImageSender } from "../message-view/readingApi";
import { listImageSenders, removeImageSender } from "./settingsApi";

export function TrustedSenders() {
  const t = useT();
  const [senders, setSenders] = useState<ImageSender[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    listImageSenders(abort.signal).then(setSenders, (err: unknown) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, [attempt]);

  const remove = (sender: ImageSender): void => {
    setError(null);
    removeImageSender(sender.id).then(
      () => setSenders((list) => list?.filter((s) => s.id !== sender.id) ?? null),
      (err: unknown) => setError(err),
    );
  };

  return (
    <div className="trusted-senders">
      <h3>{t("settings.trustedSenders")}</h3>
      {error !== null && (
        <ErrorNotice
          error={error}
          onRetry={() => {
            setError(null);
            setAttempt((n) => n + 1);
          }}
        />
      )}
      {senders === null ? (
        error === null && <p className="loading">{t("loading")}</p>
      ) : senders.length === 0 ? (
        <p className="empty">{t("settings.trustedSendersEmpty")}</p>
      ) : (
        <ul>
          {senders.map((s) => (
            <li key={s.id}>
              <span className="sender-address">{s.address}</span>
              <button
                type="button"
                onClick={() => remove(s)}
                aria-label={t("settings.removeSender", { address: s.address })}
                data-testid={`remove-sender-${s.id}`}
              >
                {t("settings.remove")}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
