// The right pane: actions, headers, the remote-images bar, the body (the server's sandboxed
// body document in an iframe) and the attachments.
//
// Printing: the print button opens the server's print page in a tab of its own (as Naver's
// 인쇄 window): headers and the whole body as one document that opens the print dialog, so
// every page of a long HTML or text mail prints. A frame prints only its own box and no script
// may measure the sandboxed body, so the browser's own Ctrl+P on this page (print CSS in
// messageView.css) still gives an HTML body one page; text prints whole from the detail JSON.
import { useEffect, useMemo, useState } from "react";
import type { Folder } from "../../api/folders";
import { useI18n } from "../../i18n/I18nContext";
import { formatFullDate } from "../../lib/formatDate";
import { singleLine } from "../../lib/plainText";
import { composeRoute } from "../../lib/route";
import { useNavigate } from "../../lib/useRoute";
import { ErrorNotice } from "../../components/ErrorNotice";
import { loadSettings, type RemoteImagePolicy } from "../settings/settingsApi";
import { AddressList } from "./AddressList";
import { AttachmentList } from "./AttachmentList";
import { BlockSenderButton } from "./BlockSenderButton";
import { ImageBar } from "./ImageBar";
import { MessageBodyFrame } from "./MessageBodyFrame";
import { ReadStatusPanel } from "../outbox/ReadStatusPanel";
import { LinkedLargeFiles } from "../largefiles/LinkedLargeFiles";
import { SentLargeFiles } from "../largefiles/SentLargeFiles";
import { ReceiptPrompt } from "../outbox/ReceiptPrompt";
import { MessageToolbar, type ToolbarAction } from "./MessageToolbar";
import { TrustWarnings, VerifiedMark } from "./SenderTrust";
import {
  bodyUrl,
  deleteMessage,
  markSpam,
  moveMessage,
  moveTargets,
  printUrl,
  setFlagged,
  setSeen,
  sourceUrl,
  trustImageSender,
  type ReadableMessage,
} from "./readingApi";
import { loadRemoteImages, offerTrustSender, showImageBar } from "./remoteImages";
import "./messageView.css";

interface Props {
  message: ReadableMessage;
  onBack: () => void;
  /** The message left this folder (deleted, moved, spam); defaults to onBack. */
  onRemoved?: (messageId: number) => void;
  /** Its flags changed here (star, unread), for the list row. */
  onFlagsChanged?: (messageId: number, flags: { flagged?: boolean; seen?: boolean }) => void;
}

function usePolicy(): RemoteImagePolicy | null {
  const [policy, setPolicy] = useState<RemoteImagePolicy | null>(null);
  useEffect(() => {
    let live = true;
    loadSettings(true).then(
      (s) => live && setPolicy(s.remote_images),
      () => undefined, // unknown policy: treated as "ask", the safe default
    );
    return () => {
      live = false;
    };
  }, []);
  return policy;
}

function useFolders(): Folder[] | null {
  const [folders, setFolders] = useState<Folder[] | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    moveTargets(abort.signal).then(setFolders, () => undefined);
    return () => abort.abort();
  }, []);
  return folders;
}

export function MessageView({ message, onBack, onRemoved, onFlagsChanged }: Props) {
  const { t, locale } = useI18n();
  const navigate = useNavigate();
  const policy = usePolicy();
  const folders = useFolders();
  const [shownOnce, setShownOnce] = useState(false);
  const [flagged, setFlaggedState] = useState(message.flags.flagged);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // Another message in the same pane starts from its own state.
  useEffect(() => {
    setShownOnce(false);
    setFlaggedState(message.flags.flagged);
    setError(null);
    setBusy(false);
  }, [message.id, message.flags.flagged]);

  const subject = singleLine(message.subject) || t("list.noSubject");
  const files = message.attachments.filter((a) => !a.inline || message.html === null);
  const images = {
    blocked: message.remote_images_blocked,
    allowed: message.remote_images_allowed,
    shownOnce,
    policy,
  };
  const src = bodyUrl(message, loadRemoteImages(images));
  const currentFolder = folders?.find((f) => f.id === message.folder);
  const targets = useMemo(
    () => (folders ? folders.filter((f) => f.id !== message.folder && f.special_use !== "drafts") : null),
    [folders, message.folder],
  );
  const removed = onRemoved ?? ((): void => onBack());

  const run = (call: () => Promise<unknown>, after: () => void): void => {
    setBusy(true);
    setError(null);
    call().then(
      () => {
        setBusy(false);
        after();
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  const onAction = (action: ToolbarAction): void => {
    switch (action) {
      case "reply":
      case "replyall":
      case "forward":
        navigate(composeRoute(action, message.id));
        return;
      case "delete":
        run(() => deleteMessage(message.id), () => removed(message.id));
        return;
      case "star": {
        const next = !flagged;
        run(
          () => setFlagged(message.id, next),
          () => {
            setFlaggedState(next);
            onFlagsChanged?.(message.id, { flagged: next });
          },
        );
        return;
      }
      case "unread":
        // Back to the list, as Gmail does: staying would show it read again.
        run(
          () => setSeen(message.id, false),
          () => {
            onFlagsChanged?.(message.id, { seen: false });
            onBack();
          },
        );
        return;
      case "spam":
        run(() => markSpam(message.id, currentFolder?.special_use !== "junk"), () => removed(message.id));
        return;
      case "source":
        window.open(sourceUrl(message.id), "_blank", "noopener,noreferrer");
        return;
      case "print":
        window.open(printUrl(message.id, loadRemoteImages(images), locale), "_blank", "noopener");
        return;
    }
  };

  return (
    <article className="message-view" aria-labelledby="message-subject">
      <button type="button" className="back" onClick={onBack} data-testid="message-back">
        {t("view.back")}
      </button>
      <MessageToolbar
        starred={flagged}
        inJunk={currentFolder?.special_use === "junk"}
        busy={busy}
        targets={targets}
        onAction={onAction}
        onMove={(folderId) => run(() => moveMessage(message.id, folderId), () => removed(message.id))}
      />
      {error !== null && <ErrorNotice error={error} />}
      <h1 id="message-subject">
        <bdi>{subject}</bdi>
      </h1>
      <dl className="headers">
        <dt>{t("view.from")}</dt>
        <dd>
          <AddressList addresses={[message.from]} /> <VerifiedMark trust={message.trust} address={message.from.address} />
          <BlockSenderButton address={message.from.address} />
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
        {message.reply_to.length > 0 && (
          <>
            <dt>{t("view.replyTo")}</dt>
            <dd>
              <AddressList addresses={message.reply_to} />
            </dd>
          </>
        )}
        <dt>{t("view.date")}</dt>
        <dd>
          <time dateTime={message.date}>{formatFullDate(message.date, locale)}</time>
        </dd>
      </dl>
      <TrustWarnings trust={message.trust} address={message.from.address} />
      {currentFolder?.special_use === "sent" ? (
        <>
          <ReadStatusPanel messageId={message.id} />
          <SentLargeFiles messageId={message.id} />
        </>
      ) : currentFolder && currentFolder.special_use !== "drafts" ? (
        <ReceiptPrompt messageId={message.id} />
      ) : null}
      {showImageBar(images) && (
        <ImageBar
          count={message.remote_images_blocked}
          sender={offerTrustSender(images) ? message.from.address : ""}
          onShow={() => setShownOnce(true)}
          onAlways={() => trustImageSender(message.from.address).then(() => setShownOnce(true))}
        />
      )}
      <MessageBodyFrame src={src} title={t("view.bodyTitle")} />
      <p className="body-links">
        <a href={src} target="_blank" rel="noopener noreferrer" data-testid="open-body">
          {t("view.openBody")}
        </a>
      </p>
      {message.html === null && (
        <pre className="print-only message-text" data-testid="message-text">
          {message.text}
        </pre>
      )}
      <AttachmentList attachments={files} />
      <LinkedLargeFiles messageId={message.id} />
    </article>
  );
}
