// The attachments of the message being written: name, size, upload progress or the error in
// words (with a retry), a remove button each, and the total of what will be sent.
import { useT } from "../../i18n/I18nContext";
import { formatSize } from "../../lib/formatSize";
import { countedItems, totalSize, type AttachmentItem } from "./attachments";
import { describeFailure } from "./sendErrors";

interface Props {
  items: readonly AttachmentItem[];
  onRemove: (key: string) => void;
  /** a failed upload: try it again (the file is still at hand) */
  onRetry?: (key: string) => void;
  disabled?: boolean;
}

export function AttachmentList({ items, onRemove, onRetry, disabled }: Props) {
  const t = useT();
  if (items.length === 0) return null;
  return (
    <section className="compose-attachments" aria-label={t("compose.attachments")}>
      <ul>
        {items.map((item) => {
          const uploadingNow = item.kind === "upload" && item.status === "uploading";
          const failed = item.kind === "upload" && item.status === "error";
          return (
            <li
              key={item.key}
              className={failed ? "attachment failed" : "attachment"}
              data-testid="compose-attachment"
              data-status={item.kind === "upload" ? item.status : "done"}
            >
              <span className="attachment-name">{item.filename}</span>{" "}
              <span className="size">{formatSize(item.size, t)}</span>
              {uploadingNow && (
                <progress
                  max={1}
                  value={item.progress}
                  aria-label={t("compose.uploading", { name: item.filename })}
                  aria-valuetext={`${Math.round(item.progress * 100)}%`}
                />
              )}
              {uploadingNow && <span className="percent">{Math.round(item.progress * 100)}%</span>}
              {failed && (
                <span className="field-error" role="alert">
                  {t("compose.uploadFailed", { name: item.filename, reason: describeFailure(item.error, t).text })}
                </span>
              )}
              {failed && onRetry && item.kind === "upload" && item.file && (
                <button
                  type="button"
                  className="attachment-retry"
                  onClick={() => onRetry(item.key)}
                  disabled={disabled}
                  data-testid="attachment-retry"
                >
                  {t("compose.uploadRetry")}
                </button>
              )}
              <button
                type="button"
                className="attachment-remove"
                onClick={() => onRemove(item.key)}
                disabled={disabled}
                aria-label={t("compose.removeAttachment", { name: item.filename })}
              >
                ×
              </button>
            </li>
          );
        })}
      </ul>
      <p className="attachments-total" data-testid="attachments-total">
        {t("compose.attachmentsTotal", { count: countedItems(items).length, size: formatSize(totalSize(items), t) })}
      </p>
    </section>
  );
}
