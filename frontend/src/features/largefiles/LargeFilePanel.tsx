// 대용량 첨부 in compose: a button to pick files sent as links, their upload progress (with a
// retry when one failed), and uploads of an earlier page to resume by picking the file again.
import { useEffect, useRef, useState } from "react";
import { useT } from "../../i18n/I18nContext";
import { formatSize } from "../../lib/formatSize";
import { describeFailure } from "../compose/sendErrors";
import { limits } from "./largeUpload";
import type { LargeFiles } from "./useLargeFiles";

interface Props {
  large: LargeFiles;
  disabled?: boolean;
}

export function LargeFileButton({ large, disabled }: Props) {
  const t = useT();
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" onClick={() => input.current?.click()} disabled={disabled} data-testid="largefile-button">
        {t("largefile.attach")}
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="largefile-input"
        onChange={(e) => {
          for (const file of Array.from(e.target.files ?? [])) large.add(file);
          e.target.value = "";
        }}
      />
    </>
  );
}

export function LargeFilePanel({ large, disabled }: Props) {
  const t = useT();
  const [mismatch, setMismatch] = useState<string | null>(null);
  const [days, setDays] = useState(30);
  const shown = large.items.length > 0 || large.pending.length > 0;
  useEffect(() => {
    if (!shown) return;
    const abort = new AbortController();
    limits(abort.signal).then(
      (l) => setDays(l.days),
      () => undefined,
    );
    return () => abort.abort();
  }, [shown]);
  if (large.items.length === 0 && large.pending.length === 0) return null;
  return (
    <section className="compose-attachments largefiles" aria-label={t("largefile.title")} data-testid="largefile-panel">
      <h3>{t("largefile.title")}</h3>
      <p className="hint">{t("largefile.hint", { days })}</p>
      <ul>
        {large.items.map((item) => (
          <li key={item.key} className="attachment" data-testid="largefile-item" data-status={item.status}>
            <span className="attachment-name">{item.name}</span> <span className="size">{formatSize(item.size, t)}</span>
            {(item.status === "uploading" || item.status === "checking") && (
              <>
                <progress max={1} value={item.fraction} aria-label={t("largefile.uploading", { name: item.name })} />
                <span className="percent" data-testid="largefile-percent">
                  {item.status === "checking" ? t("largefile.checking") : `${Math.floor(item.fraction * 100)}%`}
                </span>
              </>
            )}
            {item.status === "done" && <span data-testid="largefile-ready">{t("largefile.ready")}</span>}
            {item.status === "error" && (
              <>
                <span className="field-error" role="alert">
                  {t("largefile.failed", { reason: describeFailure(item.error, t).text })}
                </span>
                {item.file && (
                  <button type="button" onClick={() => large.retry(item.key)} disabled={disabled} data-testid="largefile-retry">
                    {t("largefile.retry")}
                  </button>
                )}
              </>
            )}
            <button
              type="button"
              className="attachment-remove"
              onClick={() => large.remove(item.key)}
              disabled={disabled}
              aria-label={t("largefile.remove", { name: item.name })}
            >
              ×
            </button>
          </li>
        ))}
        {large.pending.map((p) => (
          <li key={p.id} className="attachment" data-testid="largefile-pending">
            <span className="attachment-name">{p.name}</span> <span className="size">{formatSize(p.size, t)}</span>{" "}
            <span>{t("largefile.repick")}</span>{" "}
            <label className="button">
              {t("largefile.pickAgain")}
              <input
                type="file"
                hidden
                data-testid="largefile-resume-input"
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  e.target.value = "";
                  if (!file) return;
                  setMismatch(large.resume(p, file) ? null : t("largefile.notSame", { name: p.name }));
                }}
              />
            </label>
            <button type="button" onClick={() => large.discardPending(p.id)} disabled={disabled}>
              {t("largefile.discard")}
            </button>
          </li>
        ))}
      </ul>
      {mismatch && (
        <p className="field-error" role="alert">
          {mismatch}
        </p>
      )}
    </section>
  );
}
