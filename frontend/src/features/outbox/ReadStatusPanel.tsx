// 수신확인 of a message you sent: per recipient delivered / read at / deferred / bounced /
// recalled, and 발송취소 for local recipients who have not opened it (others say why not).
// Renders nothing for messages without outbox status (sent by SMTP, or not yours).
import { useEffect, useState } from "react";
import { ApiError } from "../../api/client";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import { formatTime } from "./format";
import { recall, readStatus, type ItemStatus, type RecipientStatus } from "./outboxApi";

function stateText(r: RecipientStatus, t: (k: MessageKey, v?: Record<string, string | number>) => string, locale: string): string {
  if (r.state === "read" && r.read_at) return t("outbox.state.read", { time: formatTime(r.read_at, locale) });
  return t(`outbox.state.${r.state}` as MessageKey);
}

export function ReadStatusPanel({ messageId }: { messageId: number }) {
  const { t, locale } = useI18n();
  const [status, setStatus] = useState<ItemStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [attempt, setAttempt] = useState(0);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    readStatus(messageId, abort.signal).then(setStatus, (err: unknown) => {
      if (!abort.signal.aborted && !(err instanceof ApiError && err.status === 404)) setError(err);
    });
    return () => abort.abort();
  }, [messageId, attempt]);

  if (status === null) return error !== null ? <ErrorNotice error={error} /> : null;
  const recallable = status.recall_enabled && status.recipients.some((r) => r.recall_blocked === "");
  const doRecall = (): void => {
    setBusy(true);
    recall(status.item.id).then(
      (done) => {
        setNotice(t("outbox.recallDone", { count: done.recipients.filter((r) => r.recalled).length }));
        setBusy(false);
        setAttempt((n) => n + 1);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };
  return (
    <section className="read-status" aria-labelledby={`read-status-${messageId}`} data-testid="read-status">
      <h2 id={`read-status-${messageId}`}>
        {t("outbox.status.title")} · <span data-testid="read-summary">{t("outbox.status.summary", { read: status.read, total: status.total })}</span>
      </h2>
      <table>
        <tbody>
          {status.recipients.map((r) => (
            <tr key={r.address} data-state={r.state} data-testid={`read-status-${r.address}`}>
              <th scope="row">{r.address}</th>
              <td>{stateText(r, t, locale)}</td>
              <td className="why">
                {r.recall_blocked && r.state !== "recalled" && r.recall_blocked !== "not_delivered"
                  ? t(`outbox.why.${r.recall_blocked}` as MessageKey)
                  : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!status.recall_enabled && <p>{t("outbox.recallOff")}</p>}
      {recallable && (
        <button type="button" onClick={doRecall} disabled={busy} data-testid="recall-button">
          {t("outbox.recall")}
        </button>
      )}
      {notice && <p role="status">{notice}</p>}
      {error !== null && <ErrorNotice error={error} />}
    </section>
  );
}
