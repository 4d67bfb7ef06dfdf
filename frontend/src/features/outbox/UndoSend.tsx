// After send: "보내기 취소" for as long as the message is held (its send_at, from the server),
// or the time of a scheduled message. Undo puts it back in Drafts and reopens it in compose.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { cancelSend } from "./outboxApi";
import { inZone } from "../../lib/timeZone";

interface Props {
  outbox: { id: number; send_at: string; scheduled: boolean };
  onUndone: (draftId: number | null) => void;
}

export function UndoSend({ outbox, onUndone }: Props) {
  const { t, locale } = useI18n();
  const until = new Date(outbox.send_at).getTime();
  const [now, setNow] = useState(() => Date.now());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (outbox.scheduled || now >= until) return;
    const timer = setTimeout(() => setNow(Date.now()), 250);
    return () => clearTimeout(timer);
  }, [now, until, outbox.scheduled]);

  const undo = (): void => {
    setBusy(true);
    cancelSend(outbox.id).then(onUndone, (err: unknown) => {
      setBusy(false);
      setError(err);
    });
  };

  if (outbox.scheduled) {
    const time = new Intl.DateTimeFormat(locale, inZone({ dateStyle: "medium", timeStyle: "short" })).format(until);
    return (
      <p className="outbox-scheduled" data-testid="outbox-scheduled">
        {t("outbox.scheduledPanel", { time })}
      </p>
    );
  }
  const left = Math.ceil((until - now) / 1000);
  if (left <= 0 && error === null) return null;
  return (
    <div className="outbox-undo" role="status" data-testid="outbox-undo">
      {left > 0 && <span>{t("outbox.undoLeft", { seconds: left })} </span>}
      {left > 0 && (
        <button type="button" onClick={undo} disabled={busy} data-testid="outbox-undo-button">
          {t("outbox.undo")}
        </button>
      )}
      {error !== null && <ErrorNotice error={error} />}
    </div>
  );
}
