// The right pane: headers, the body (sandboxed HTML or plain text) and attachment links.
import type { MessageDetail } from "../../api/messages";
import { useI18n } from "../../i18n/I18nContext";
import { formatFullDate } from "../../lib/formatDate";
import { formatSize } from "../../lib/formatSize";
import { AddressList } from "./AddressList";
import { MessageBodyFrame } from "./MessageBodyFrame";

interface Props {
  message: MessageDetail;
  onBack: () => void;
}

export function MessageView({ message, onBack }: Props) {
  const { t, locale } = useI18n();
  const subject = message.subject || t("list.noSubject");
  const files = message.attachments.filter((a) => !a.inline || !message.html);
  return (
    <article className="message-view" aria-labelledby="message-subject">
      <button type="button" className="back" onClick={onBack} data-testid="message-back">
        {t("view.back")}
      </button>
      <h2 id="message-subject">{subject}</h2>
      <dl className="headers">
        <dt>{t("view.from")}</dt>
        <dd>
          <AddressList addresses={[message.from]} />
        </dd>
        <dt>{t("view.to")}</dt>
        <dd>
          <AddressList addresses={message.to} />
        </dd>
        {message.cc.length > 0 && (
          <>
            <dt>{t("view.cc")}</dt>
            <dd>
              <AddressList addresses={message.cc} />
            </dd>
          </>
        )}
        <dt>{t("view.date")}</dt>
        <dd>
          <time dateTime={message.date}>{formatFullDate(message.date, locale)}</time>
        </dd>
      </dl>
      {message.remote_images_blocked > 0 && (
        <p className="notice">{t("view.remoteImagesBlocked", { count: message.remote_images_blocked })}</p>
      )}
      {message.html !== null ? (
        <MessageBodyFrame html={message.html} title={t("view.bodyTitle")} />
      ) : (
        <pre className="message-text" data-testid="message-text">
          {message.text}
        </pre>
      )}
      {files.length > 0 && (
        <section className="attachments" aria-label={t("view.attachments")}>
          <h3>{t("view.attachments")}</h3>
          <ul>
            {files.map((a) => (
              <li key={a.index}>
                <a href={a.url} download={a.filename} data-testid={`attachment-${a.index}`}>
                  {a.filename}
                </a>{" "}
                <span className="size">
                  {formatSize(a.size, t)} · {a.content_type}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </article>
  );
}
