// 예약 메일 (/outbox): scheduled messages not gone yet, soonest first, each with send now,
// edit (cancel → Drafts → reopened in compose, where it is scheduled again) and cancel.
import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../../api/client";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { composeRoute } from "../../lib/route";
import { useNavigate } from "../../lib/useRoute";
import { formatTime } from "./format";
import { cancelSend, listScheduled, reschedule, type OutboxItem } from "./outboxApi";

export function OutboxView() {
  const { t, locale } = useI18n();
  const navigate = useNavigate();
  const [items, setItems] = useState<OutboxItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    listScheduled(abort.signal).then(setItems, (err: unknown) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, [attempt]);

  const act = useCallback(
    (work: () => Promise<unknown>, done: string) => {
      setError(null);
      work().then(
        () => {
          setNotice(done);
          setAttempt((n) => n + 1);
        },
        (err: unknown) => {
          if (err instanceof ApiError && err.code === "already_sent") setNotice(t("outbox.alreadySent"));
          else setError(err);
          setAttempt((n) => n + 1);
        },
      );
    },
    [t],
  );

  return (
    <section className="outbox-view" aria-labelledby="outbox-title" data-testid="outbox-view">
      <h1 id="outbox-title">{t("outbox.title")}</h1>
      {notice && <p role="status">{notice}</p>}
      {error !== null && <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      {items === null ? (
        <p className="loading">{t("loading")}</p>
      ) : items.length === 0 ? (
        <p className="empty">{t("outbox.empty")}</p>
      ) : (
        <ul className="outbox-list">
          {items.map((item) => (
            <li key={item.id} data-testid={`outbox-item-${item.id}`}>
              <bdi className="subject">{item.subject || t("list.noSubject")}</bdi>{" "}
              <time dateTime={item.send_at}>{t("outbox.sendAt", { time: formatTime(item.send_at, locale) })}</time>
              <span className="outbox-actions">
                <button type="button" onClick={() => act(() => reschedule(item.id, null), t("compose.sent.title"))}>
                  {t("outbox.sendNow")}
                </button>
                <button
                  type="button"
                  onClick={() =>
                    cancelSend(item.id).then(
                      (draft) => draft !== null && navigate(composeRoute("draft", draft)),
                      (err: unknown) => setError(err),
                    )
                  }
                >
                  {t("outbox.edit")}
                </button>
                <button type="button" className="danger" onClick={() => act(() => cancelSend(item.id), t("outbox.cancelled"))}>
                  {t("outbox.cancel")}
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
