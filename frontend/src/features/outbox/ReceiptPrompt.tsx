// A received message asks for a read receipt (MDN): ask once — send, don't send, always for
// this sender. Never sends without an answer; "always" (answered before) sends on opening.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { answerReceipt, getReceipt, type ReceiptRequest } from "./outboxApi";

export function ReceiptPrompt({ messageId }: { messageId: number }) {
  const t = useT();
  const [asked, setAsked] = useState<ReceiptRequest | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const abort = new AbortController();
    getReceipt(messageId, abort.signal).then(
      (found) => {
        if (found.requested && found.decision === "" && found.always) {
          answerReceipt(messageId, "send").then(setAsked, setError);
        } else {
          setAsked(found);
        }
      },
      () => undefined, // not asked, or not ours: nothing to show
    );
    return () => abort.abort();
  }, [messageId]);

  if (asked === null || !asked.requested) return null;
  if (asked.decision !== "") {
    return (
      <p className="receipt-done" role="status" data-testid="receipt-done">
        {asked.decision === "sent" ? t("outbox.receiptSent") : t("outbox.receiptDeclined")}
      </p>
    );
  }
  const answer = (choice: "send" | "decline" | "always"): void => {
    answerReceipt(messageId, choice).then(setAsked, setError);
  };
  return (
    <div className="receipt-prompt" role="region" aria-label={t("outbox.status.title")} data-testid="receipt-prompt">
      <span>{t("outbox.receiptAsk", { sender: asked.notify })}</span>{" "}
      <button type="button" onClick={() => answer("send")} data-testid="receipt-send">
        {t("outbox.receiptSend")}
      </button>
      <button type="button" onClick={() => answer("decline")} data-testid="receipt-decline">
        {t("outbox.receiptDecline")}
      </button>
      <button type="button" onClick={() => answer("always")} data-testid="receipt-always">
        {t("outbox.receiptAlways")}
      </button>
      {error !== null && <ErrorNotice error={error} />}
    </div>
  );
}
