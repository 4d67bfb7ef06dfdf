// The attachments of a message: an icon by type, the name (bidi controls removed, extension
// always visible), size and type, a download link, and a thumbnail for raster images.
// The thumbnail is the same-origin attachment URL in an <img>: an image load ignores the
// download's Content-Disposition, and the server sends a raster type only when the bytes
// match it (anything else is octet-stream and simply does not render).
import { useState } from "react";
import type { Attachment } from "../../api/messages";
import { useT } from "../../i18n/I18nContext";
import { formatSize } from "../../lib/formatSize";
import { singleLine } from "../../lib/plainText";
import { KIND_ICONS, attachmentKind, canPreview, splitExtension } from "./attachmentKind";

function Thumbnail({ attachment, name }: { attachment: Attachment; name: string }) {
  const [failed, setFailed] = useState(false);
  if (failed) return null;
  return (
    <a href={attachment.url} download={name} className="thumbnail" tabIndex={-1} aria-hidden="true">
      <img
        src={attachment.url}
        alt=""
        loading="lazy"
        referrerPolicy="no-referrer"
        onError={() => setFailed(true)}
        data-testid={`thumbnail-${attachment.index}`}
      />
    </a>
  );
}

export function AttachmentList({ attachments }: { attachments: readonly Attachment[] }) {
  const t = useT();
  if (attachments.length === 0) return null;
  const total = attachments.reduce((sum, a) => sum + a.size, 0);
  return (
    <section className="attachments" aria-label={t("view.attachments")}>
      <h3>
        {t("view.attachmentsCount", { count: attachments.length })}{" "}
        <span className="size">({formatSize(total, t)})</span>
      </h3>
      <ul>
        {attachments.map((a) => {
          const name = singleLine(a.filename).trim() || t("view.unnamedAttachment");
          const [stem, ext] = splitExtension(name);
          const kind = attachmentKind(a.content_type, name);
          return (
            <li key={a.index} className={`attachment kind-${kind}`}>
              {canPreview(a.content_type) && <Thumbnail attachment={a} name={name} />}
              <span className="attachment-icon" aria-hidden="true">
                {KIND_ICONS[kind]}
              </span>
              <a
                href={a.url}
                download={name}
                title={name}
                className="attachment-name"
                data-testid={`attachment-${a.index}`}
              >
                <bdi className="stem">{stem}</bdi>
                <span className="ext">{ext}</span>
              </a>{" "}
              <span className="size">
                {formatSize(a.size, t)} · {a.content_type}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
