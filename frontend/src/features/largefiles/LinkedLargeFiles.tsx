// A received message's 대용량 첨부: the large files of this server it links to, listed beside
// the attachments with their size, expiry and a download (the public link works without login).
import { useEffect, useState } from "react";
import { useI18n } from "../../i18n/I18nContext";
import { formatSize } from "../../lib/formatSize";
import { formatTime } from "../outbox/format";
import { linkedFiles, type LinkedLargeFile } from "./largeUpload";

export function LinkedLargeFiles({ messageId }: { messageId: number }) {
  const { t, locale } = useI18n();
  const [files, setFiles] = useState<LinkedLargeFile[]>([]);
  useEffect(() => {
    const abort = new AbortController();
    setFiles([]);
    linkedFiles(messageId, abort.signal).then(setFiles, () => undefined);
    return () => abort.abort();
  }, [messageId]);
  if (files.length === 0) return null;
  return (
    <section className="attachments largefiles" aria-label={t("largefile.received")} data-testid="linked-largefiles">
      <h3>{t("largefile.received")}</h3>
      <ul>
        {files.map((f) => (
          <li key={f.url} data-testid="linked-largefile">
            <span className="attachment-name">{f.filename}</span> <span className="size">{formatSize(f.size, t)}</span>{" "}
            {f.available && f.expires_at ? (
              <>
                <span>{t("largefile.expires", { time: formatTime(f.expires_at, locale) })}</span>{" "}
                <a href={`${f.url}/download`} download={f.filename} data-testid="linked-largefile-download">
                  {t("largefile.download")}
                </a>
              </>
            ) : (
              <span>{t("largefile.unavailable")}</span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
