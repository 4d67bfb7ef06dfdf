// After a successful send: "Sent", to whom, and each recipient's delivery state as the queue
// works through it (polled for a short while: queued → delivered / deferred / bounced).
import { useEffect, useState } from "react";
import { useT } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import { composeRoute } from "../../lib/route";
import { useNavigate } from "../../lib/useRoute";
import { UndoSend } from "../outbox/UndoSend";
import { getDelivery, type DeliveryReport, type SendResult } from "./composeApi";

const POLL_MS = 2000;
const MAX_POLLS = 15;

const STATE_KEYS: Readonly<Record<string, MessageKey>> = {
  queued: "compose.delivery.queued",
  delivered: "compose.delivery.delivered",
  deferred: "compose.delivery.deferred",
  bounced: "compose.delivery.bounced",
};

interface Props {
  result: SendResult;
  toMe: boolean;
  onClose: () => void;
}

export function SentPanel({ result, toMe, onClose }: Props) {
  const t = useT();
  const navigate = useNavigate();
  const [report, setReport] = useState<DeliveryReport | null>(null);
  const messageId = result.message.id;

  useEffect(() => {
    if (toMe || result.queue_ids.length === 0) return;
    const abort = new AbortController();
    let polls = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = (): void => {
      polls += 1;
      getDelivery(messageId, abort.signal).then(
        (next) => {
          setReport(next);
          const pending = next.recipients.some((r) => r.state === "queued" || r.state === "deferred");
          if (pending && polls < MAX_POLLS) timer = setTimeout(poll, POLL_MS);
        },
        () => {
          if (!abort.signal.aborted && polls < MAX_POLLS) timer = setTimeout(poll, POLL_MS * 2);
        },
      );
    };
    poll();
    return () => {
      abort.abort();
      if (timer !== null) clearTimeout(timer);
    };
  }, [messageId, toMe, result.queue_ids.length]);

  const recipients = [...result.message.to, ...result.message.cc]
    .map((a) => a.name || a.address)
    .join(", ");

  return (
    <section className="compose compose-sent" aria-labelledby="compose-sent-title" data-testid="compose-sent">
      <div role="status">
        <h2 id="compose-sent-title">{toMe ? t("compose.sent.toMe") : t("compose.sent.title")}</h2>
        {!toMe && recipients && <p>{t("compose.sent.to", { list: recipients })}</p>}
        {result.held === true && <p className="sent-held" data-testid="sent-held">{t("hold.sent")}</p>}
      </div>
      {result.outbox && (
        <UndoSend
          outbox={result.outbox}
          onUndone={(draft) => (draft !== null ? navigate(composeRoute("draft", draft), true) : onClose())}
        />
      )}
      {report && report.recipients.length > 0 && (
        <table className="delivery">
          <caption>{t("compose.delivery.title")}</caption>
          <tbody>
            {report.recipients.map((r) => (
              <tr key={r.address} data-state={r.state}>
                <th scope="row">{r.address}</th>
                <td>
                  {STATE_KEYS[r.state] ? t(STATE_KEYS[r.state] as MessageKey) : r.state}
                  {(r.state === "deferred" || r.state === "bounced") && r.last_reply && (
                    <span className="last-reply"> — {r.last_reply}</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" onClick={onClose} autoFocus>
        {t("compose.close")}
      </button>
    </section>
  );
}
