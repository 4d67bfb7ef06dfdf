// The sender's view of 대용량 첨부: per file its downloads and expiry, and "expire now". With
// `messageId`, the files of one sent message (its status panel); without, all of them (Settings).
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { formatSize } from "../../lib/formatSize";
import { formatTime } from "../outbox/format";
import { expireNow, listSent, type SentLargeFile } from "./largeUpload";

export function SentLargeFiles({ messageId, showEmpty }: { messageId?: number; showEmpty?: boolean }) {
  const { t, locale } = useI18n();
  const [files, setFiles] = useState<SentLargeFile[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const abort = new AbortController();
    listSent(messageId, abort.signal).then(setFiles, (err: unknown) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, [messageId]);
  if (files === null) return error !== null ? <ErrorNotice error={error} /> : null;
  if (files.length === 0 && !showEmpty) return null;
  const expire = (id: string): void => {
    expireNow(id).then(
      (done) => setFiles((all) => (all ?? []).map((f) => (f.id === id ? done : f))),
      setError,
    );
  };
  return (
    <section className="read-status sent-largefiles" data-testid="sent-largefiles">
      <h2>{t("largefile.sentTitle")}</h2>
      {files.length === 0 && <p>{t("largefile.settingsEmpty")}</p>}
      <table>
        <tbody>
          {files.map((f) => (
            <tr key={f.id} data-state={f.state} data-testid="sent-largefile">
              <th scope="row">
                {f.filename} <span className="size">{formatSize(f.size, t)}</span>
              </th>
              <td data-testid="sent-largefile-count">{t("largefile.downloads", { count: f.download_count })}</td>
              <td>
                {f.state === "sent" && f.expires_at
                  ? t("largefile.state.sent", { time: formatTime(f.expires_at, locale) })
                  : t(f.state === "revoked" ? "largefile.state.revoked" : "largefile.state.expired")}
              </td>
              <td>
                {f.state === "sent" && (
                  <button type="button" onClick={() => expire(f.id)} data-testid="sent-largefile-expire">
                    {t("largefile.expireNow")}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {error !== null && <ErrorNotice error={error} />}
    </section>
  );
}
