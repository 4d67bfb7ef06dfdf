// The compose form once loaded: recipients, subject, body (rich or plain), attachments
// (picker and drag-and-drop, with upload progress), autosaved drafts, "write to myself",
// send and discard. Failures are shown in words and lose nothing.
import { useCallback, useEffect, useId, useRef, useState, type DragEvent, type KeyboardEvent } from "react";
import { ApiError } from "../../api/client";
import { useI18n } from "../../i18n/I18nContext";
import { AttachmentList } from "./AttachmentList";
import { LargeFileButton, LargeFilePanel } from "../largefiles/LargeFilePanel";
import { useLargeFiles } from "../largefiles/useLargeFiles";
import { addressKey, formatAddress } from "./addresses";
import {
  admitFiles,
  attachmentPayload,
  failedUploads,
  mapSavedParts,
  totalProblem,
  uploading,
  type AttachmentItem,
  type LimitProblem,
} from "./attachments";
import { AutoSaver, type SaveStatus } from "./autosave";
import {
  createDraft,
  deleteDraft,
  deleteUpload,
  getComposeLimits,
  getDraft,
  replaceDraft,
  searchContacts,
  sendMessage,
  uploadFile,
  type ComposeLimits,
  type DraftInput,
  type SendInput,
  type SendResult,
  type UploadHandle,
} from "./composeApi";
import { formatSize } from "../../lib/formatSize";
import { singleLine } from "../../lib/plainText";
import { rememberFormat, type BodyFormat, type Initial } from "./loadInitial";
import { hasFormatting, htmlToText, textToHtml } from "./prefill";
import { RecipientInput, makeToken, tokenInvalid, type Token } from "./RecipientInput";
import { RichEditor } from "./RichEditor";
import { SentPanel } from "./SentPanel";
import { toLocalInput } from "../outbox/format";
import { localInputToIso } from "../outbox/outboxApi";
import { describeFailure, type RecipientField, type RecipientProblem } from "./sendErrors";
import { inZone } from "../../lib/timeZone";

export const MAX_ATTACHMENTS = 100;

/** The attachment limits, fetched once per compose form; null until known (or if the request
 * fails: the server still enforces them). */
function useComposeLimits(): ComposeLimits | null {
  const [limits, setLimits] = useState<ComposeLimits | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    getComposeLimits(abort.signal).then(setLimits, () => undefined);
    return () => abort.abort();
  }, []);
  return limits;
}

interface Props {
  initial: Initial;
  onClose: () => void;
  onSent?: (result: SendResult) => void;
  onDraftSaved: (draftId: number) => void;
}

/** What the form holds: the editable part of what it was opened with, plus "write to myself". */
interface FormState extends Pick<Initial, "from" | "to" | "cc" | "bcc" | "subject" | "format" | "html" | "text"> {
  toMe: boolean;
  receipt: boolean;
}

function valid(tokens: readonly Token[]): string[] {
  return tokens.filter((tk) => !tokenInvalid(tk) && tk.groupId === undefined).map(formatAddress);
}

/** Address-book groups among the tokens, sent as to_groups/cc_groups/bcc_groups. */
function groupIds(tokens: readonly Token[]): number[] {
  return tokens.flatMap((tk) => (tk.groupId !== undefined ? [tk.groupId] : []));
}

/** The fields a draft save and a send share. Invalid addresses are left out of a draft
 * (the server would refuse the whole save); a send refuses them before it gets here. */
function baseFields(s: FormState, initial: Initial, items: readonly AttachmentItem[]): DraftInput & { order: string[] } {
  const parts = attachmentPayload(items);
  const body: DraftInput & { order: string[] } = {
    from_address: s.from,
    to: s.toMe ? [formatAddress(initial.me)] : valid(s.to),
    cc: s.toMe ? [] : valid(s.cc),
    bcc: s.toMe ? [] : valid(s.bcc),
    to_groups: s.toMe ? [] : groupIds(s.to),
    cc_groups: s.toMe ? [] : groupIds(s.cc),
    bcc_groups: s.toMe ? [] : groupIds(s.bcc),
    subject: s.subject.replace(/[\r\n\t]+/g, " "),
    // The text alternative of an HTML body, with quotes as "> " lines.
    text: s.format === "text" ? s.text : htmlToText(s.html),
    html: s.format === "html" ? s.html : null,
    attachments: parts.attachments,
    draft_attachments: parts.draft_attachments,
    priority: "normal",
    mode: initial.apiMode,
    quote: false,
    request_receipt: s.receipt && !s.toMe,
    order: parts.order,
  };
  if (initial.apiMode === "forward") body.forward_attachments = parts.forward_attachments;
  if (initial.originalId !== null) body.in_reply_to_message = initial.originalId;
  return body;
}

export function ComposeForm({ initial, onClose, onSent, onDraftSaved }: Props) {
  const { t, locale } = useI18n();
  const subjectId = useId();
  const fromId = useId();
  const [from, setFrom] = useState(initial.from);
  const [to, setTo] = useState<Token[]>(initial.to);
  const [cc, setCc] = useState<Token[]>(initial.cc);
  const [bcc, setBcc] = useState<Token[]>(initial.bcc);
  const [showCcBcc, setShowCcBcc] = useState(initial.cc.length > 0 || initial.bcc.length > 0);
  const [toMe, setToMe] = useState(false);
  const [receipt, setReceipt] = useState(initial.requestReceipt ?? false);
  const [scheduleOn, setScheduleOn] = useState(false);
  const [scheduleAt, setScheduleAt] = useState("");
  const [subject, setSubject] = useState(initial.subject);
  const [format, setFormat] = useState<BodyFormat>(initial.format);
  const [html, setHtml] = useState(initial.html);
  const [text, setText] = useState(initial.text);
  const [editorKey, setEditorKey] = useState(0);
  const [confirmPlain, setConfirmPlain] = useState(false);
  const [attachments, setAttachments] = useState<AttachmentItem[]>(initial.attachments);
  const large = useLargeFiles();
  const [dragging, setDragging] = useState(false);
  const [status, setStatus] = useState<SaveStatus>({ saving: false, savedAt: null, error: null, dirty: false });
  const [sending, setSending] = useState(false);
  const [discarding, setDiscarding] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<SendResult | null>(null);
  const [sentToMe, setSentToMe] = useState(false);
  const limits = useComposeLimits();

  const stateRef = useRef<FormState>({ from, to, cc, bcc, subject, format, html, text, toMe, receipt });
  stateRef.current = { from, to, cc, bcc, subject, format, html, text, toMe, receipt };
  // Attachments and the draft id change inside async saves: refs are their source of truth.
  const attachmentsRef = useRef<AttachmentItem[]>(initial.attachments);
  const draftIdRef = useRef<number | null>(initial.draftId);
  const staleOrderRef = useRef<string[] | null>(null);
  const uploadsRef = useRef(new Map<string, UploadHandle>());
  const savedToMeTo = useRef<Token[]>([]);
  const fileInputRef = useRef<HTMLInputElement>(null);
  const saverRef = useRef<AutoSaver | null>(null);
  const onDraftSavedRef = useRef(onDraftSaved);
  onDraftSavedRef.current = onDraftSaved;
  const keySeq = useRef(0);

  const updateAttachments = useCallback((fn: (items: AttachmentItem[]) => AttachmentItem[]) => {
    attachmentsRef.current = fn(attachmentsRef.current);
    setAttachments(attachmentsRef.current);
  }, []);

  /** Learn the part indexes of the draft just saved, so the next save can keep them. */
  const syncParts = useCallback(
    async (draftId: number, order: string[]) => {
      const fields = await getDraft(draftId);
      updateAttachments((items) => mapSavedParts(items, order, fields.draft_attachments));
      staleOrderRef.current = null;
    },
    [updateAttachments],
  );

  const saveDraft = useCallback(async () => {
    if (staleOrderRef.current !== null && draftIdRef.current !== null) {
      await syncParts(draftIdRef.current, staleOrderRef.current);
    }
    const { order, ...body } = baseFields(stateRef.current, initial, attachmentsRef.current);
    const id = draftIdRef.current;
    const saved = id === null ? await createDraft(body) : await replaceDraft(id, body);
    draftIdRef.current = saved.id;
    onDraftSavedRef.current(saved.id);
    if (attachmentsRef.current.length > 0 || order.length > 0) {
      staleOrderRef.current = order;
      try {
        await syncParts(saved.id, order);
      } catch {
        // Retried before the next save or send (staleOrderRef stays set).
      }
    }
  }, [initial, syncParts]);

  useEffect(() => {
    const saver = new AutoSaver({ save: saveDraft, onStatus: setStatus });
    saverRef.current = saver;
    const uploads = uploadsRef.current;
    return () => {
      // Leaving with unsaved changes: one last save, not awaited.
      if (saver.current.dirty) void saver.flush().catch(() => undefined);
      saver.stop();
      for (const handle of uploads.values()) handle.abort();
    };
  }, [saveDraft]);

  const changed = useCallback(() => saverRef.current?.changed(), []);

  // Closing the tab with unsaved work asks first (the browser's own dialog).
  const busy = status.dirty || status.saving || uploading(attachments);
  useEffect(() => {
    if (!busy || sent) return;
    const onBeforeUnload = (event: BeforeUnloadEvent): void => {
      event.preventDefault();
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [busy, sent]);

  // --- fields -----------------------------------------------------------------------------

  const setField = <T,>(setter: (v: T) => void) => (value: T): void => {
    setter(value);
    setError(null);
    changed();
  };

  const toggleToMe = (): void => {
    if (!toMe) {
      savedToMeTo.current = to;
      setTo([makeToken({ raw: initial.me.address, name: initial.me.name, address: initial.me.address, problem: null })]);
    } else {
      setTo(savedToMeTo.current);
    }
    setToMe(!toMe);
    setError(null);
    changed();
  };

  const switchFormat = (next: BodyFormat, confirmed = false): void => {
    if (next === format) return;
    if (next === "text") {
      if (!confirmed && hasFormatting(html)) {
        setConfirmPlain(true);
        return;
      }
      setText(htmlToText(html));
    } else {
      setHtml(textToHtml(text));
      setEditorKey((k) => k + 1);
    }
    setConfirmPlain(false);
    setFormat(next);
    rememberFormat(next);
    changed();
  };

  // --- attachments --------------------------------------------------------------------------

  const limitText = (problem: LimitProblem): string =>
    problem.kind === "file"
      ? t("compose.error.fileTooLarge", {
          name: problem.name,
          size: formatSize(problem.size, t),
          limit: formatSize(problem.limit, t),
        })
      : t("compose.error.attachmentsTooLarge", {
          total: formatSize(problem.total, t),
          limit: formatSize(problem.limit, t),
        });

  const addFiles = (picked: readonly File[]): void => {
    if (picked.length === 0) return;
    if (attachmentsRef.current.length + picked.length > MAX_ATTACHMENTS) {
      setError(t("compose.error.tooManyFiles", { max: MAX_ATTACHMENTS }));
      return;
    }
    // Files larger than an attachment may go as 대용량 첨부 (a link), as Naver Mail offers.
    const oversize = limits === null ? [] : picked.filter((f) => f.size > limits.max_upload_bytes);
    for (const file of oversize) large.add(file);
    const ordinary = picked.filter((f) => !oversize.includes(f));
    // Files that cannot fit are not uploaded at all (the server would refuse them anyway).
    const { accepted: files, problem } = admitFiles(attachmentsRef.current, ordinary, limits);
    setError(
      problem !== null
        ? limitText(problem)
        : oversize[0]
          ? t("largefile.offer", { name: oversize[0].name })
          : null,
    );
    for (const file of files) {
      keySeq.current += 1;
      const key = `upload-${keySeq.current}`;
      updateAttachments((items) => [
        ...items,
        {
          key,
          kind: "upload",
          filename: file.name,
          size: file.size,
          contentType: file.type,
          status: "uploading",
          progress: 0,
          uploadId: null,
          error: null,
          file,
        },
      ]);
      startUpload(key, file);
    }
  };

  const startUpload = (key: string, file: File): void => {
    const handle = uploadFile(file, (progress) =>
      updateAttachments((items) =>
        items.map((i) => (i.key === key && i.kind === "upload" ? { ...i, progress } : i)),
      ),
    );
    uploadsRef.current.set(key, handle);
    handle.promise.then(
      (upload) => {
        uploadsRef.current.delete(key);
        updateAttachments((items) =>
          items.map((i) =>
            i.key === key && i.kind === "upload"
              ? { ...i, status: "done", progress: 1, uploadId: upload.id, size: upload.size }
              : i,
          ),
        );
        changed();
      },
      (err: unknown) => {
        uploadsRef.current.delete(key);
        if (err instanceof DOMException && err.name === "AbortError") return;
        updateAttachments((items) =>
          items.map((i) => (i.key === key && i.kind === "upload" ? { ...i, status: "error", error: err } : i)),
        );
      },
    );
  };

  /** Tries a failed upload again with the file the user picked. */
  const retryAttachment = (key: string): void => {
    const item = attachmentsRef.current.find((i) => i.key === key);
    if (!item || item.kind !== "upload" || item.status !== "error" || !item.file) return;
    const file = item.file;
    setError(null);
    updateAttachments((items) =>
      items.map((i) => (i.key === key && i.kind === "upload" ? { ...i, status: "uploading", progress: 0, error: null } : i)),
    );
    startUpload(key, file);
  };

  const removeAttachment = (key: string): void => {
    const item = attachmentsRef.current.find((i) => i.key === key);
    if (!item) return;
    uploadsRef.current.get(key)?.abort();
    uploadsRef.current.delete(key);
    if (item.kind === "upload" && item.uploadId !== null) {
      void deleteUpload(item.uploadId).catch(() => undefined); // unused uploads expire anyway
    }
    updateAttachments((items) => items.filter((i) => i.key !== key));
    if (!(item.kind === "upload" && item.status !== "done")) changed();
  };

  const hasFiles = (event: DragEvent): boolean => Array.from(event.dataTransfer.types).includes("Files");

  const dropHandlers = {
    onDragEnterCapture: (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      setDragging(true);
    },
    onDragOverCapture: (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    },
    onDragLeave: (event: DragEvent) => {
      if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
    },
    // Capture: the editor would otherwise take the drop for itself.
    onDropCapture: (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      setDragging(false);
      addFiles(Array.from(event.dataTransfer.files));
    },
  };

  // --- send, save, discard, close -------------------------------------------------------------

  const markRefused = (problems: readonly RecipientProblem[], sentLists: Record<RecipientField, Token[]>): void => {
    if (problems.length === 0) return;
    const mark = (field: RecipientField, tokens: Token[]): Token[] => {
      const good = tokens.filter((tk) => !tokenInvalid(tk));
      return tokens.map((tk) => {
        const p = problems.find(
          (pr) =>
            (pr.address !== undefined && addressKey(pr.address) === addressKey(tk.address)) ||
            (pr.field === field && pr.index !== undefined && good[pr.index]?.id === tk.id),
        );
        return p ? { ...tk, serverError: p.reason || t("compose.address.refused") } : tk;
      });
    };
    setTo(mark("to", sentLists.to));
    setCc(mark("cc", sentLists.cc));
    setBcc(mark("bcc", sentLists.bcc));
    if (problems.some((p) => p.field === "cc" || p.field === "bcc")) setShowCcBcc(true);
  };

  const send = async (): Promise<void> => {
    if (sending || discarding || sent) return;
    const s = stateRef.current;
    const recipients = s.toMe ? [] : [...s.to, ...s.cc, ...s.bcc];
    if (!s.toMe && recipients.length === 0) {
      setError(t("compose.error.noRecipients"));
      return;
    }
    if (recipients.some(tokenInvalid)) {
      setError(t("compose.error.fixRecipients"));
      if ([...s.cc, ...s.bcc].some(tokenInvalid)) setShowCcBcc(true);
      return;
    }
    if (uploading(attachmentsRef.current)) {
      setError(t("compose.error.stillUploading"));
      return;
    }
    if (large.busy || large.items.some((i) => i.status === "error")) {
      setError(t("largefile.stillUploading"));
      return;
    }
    // A failed upload would silently be left out of the mail: never send without it.
    if (failedUploads(attachmentsRef.current).length > 0) {
      setError(t("compose.uploadFailedBlock"));
      return;
    }
    const tooMuch = totalProblem(attachmentsRef.current, limits);
    if (tooMuch !== null) {
      setError(limitText(tooMuch));
      return;
    }
    const sendAt = scheduleOn && !s.toMe ? localInputToIso(scheduleAt) : null;
    if (scheduleOn && !s.toMe && sendAt === null) {
      setError(t("outbox.scheduleAt"));
      return;
    }
    setSending(true);
    setError(null);
    const saver = saverRef.current;
    await saver?.settle();
    try {
      if (staleOrderRef.current !== null && draftIdRef.current !== null) {
        await syncParts(draftIdRef.current, staleOrderRef.current);
      }
      const { order: _order, ...fields } = baseFields(stateRef.current, initial, attachmentsRef.current);
      const body: SendInput = { ...fields, to_me: s.toMe, undo: !s.toMe && sendAt === null };
      if (sendAt !== null) body.send_at = sendAt;
      if (draftIdRef.current !== null) body.draft_id = draftIdRef.current;
      if (large.readyIds.length > 0) body.large_files = large.readyIds;
      const result = await sendMessage(body);
      large.sent();
      saver?.stop();
      setSentToMe(s.toMe);
      setSent(result);
      onSent?.(result);
    } catch (err) {
      const failure = describeFailure(err, t);
      setError(failure.text);
      markRefused(failure.recipients, { to: s.to, cc: s.cc, bcc: s.bcc });
      saver?.resume();
    } finally {
      setSending(false);
    }
  };

  const sendRef = useRef(send);
  sendRef.current = send;

  const saveNow = async (): Promise<void> => {
    const saver = saverRef.current;
    if (!saver) return;
    if (!saver.current.dirty && draftIdRef.current !== null) return;
    saver.changed();
    try {
      await saver.flush();
    } catch {
      // The status line shows the failure in words.
    }
  };

  const discard = async (): Promise<void> => {
    if (discarding) return;
    setDiscarding(true);
    const saver = saverRef.current;
    saver?.stop();
    await saver?.settle();
    const id = draftIdRef.current;
    if (id !== null) {
      try {
        await deleteDraft(id);
      } catch (err) {
        // Already gone (sent or deleted elsewhere) is what discarding wants anyway.
        if (!(err instanceof ApiError && err.status === 404)) {
          setError(t("compose.error.discard", { detail: describeFailure(err, t).text }));
          setDiscarding(false);
          saver?.resume();
          return;
        }
      }
    }
    // Only now: had the draft stayed, its next save would still need these uploads.
    for (const handle of uploadsRef.current.values()) handle.abort();
    for (const item of attachmentsRef.current) {
      if (item.kind === "upload" && item.uploadId !== null) void deleteUpload(item.uploadId).catch(() => undefined);
    }
    onClose();
  };

  const close = async (): Promise<void> => {
    if (uploading(attachmentsRef.current)) {
      setError(t("compose.error.stillUploading"));
      return;
    }
    const saver = saverRef.current;
    if (saver && (saver.current.dirty || saver.current.saving)) {
      try {
        await saver.flush();
      } catch (err) {
        setError(t("compose.error.closeUnsaved", { detail: describeFailure(err, t).text }));
        return;
      }
    }
    onClose();
  };

  const onKeyDown = (event: KeyboardEvent): void => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      // Let a recipient field commit what is typed in it (on blur) before sending.
      (document.activeElement as HTMLElement | null)?.blur();
      setTimeout(() => void sendRef.current(), 0);
    }
  };

  if (sent) return <SentPanel result={sent} toMe={sentToMe} onClose={onClose} />;

  const saveText = status.saving
    ? t("compose.saving")
    : status.error !== null
      ? t("compose.saveFailed", { detail: describeFailure(status.error, t).text })
      : status.savedAt
        ? t("compose.savedAt", {
            time: new Intl.DateTimeFormat(locale, inZone({ hour: "2-digit", minute: "2-digit" })).format(status.savedAt),
          })
        : "";
  const locked = sending || discarding;
  const title =
    initial.apiMode === "reply"
      ? t("compose.title.reply")
      : initial.apiMode === "reply_all"
        ? t("compose.title.replyAll")
        : initial.apiMode === "forward"
          ? t("compose.title.forward")
          : t("compose.title");

  return (
    <section
      className={dragging ? "compose dragging" : "compose"}
      aria-label={title}
      data-testid="compose-view"
      onKeyDown={onKeyDown}
      {...dropHandlers}
    >
      <header className="compose-header">
        <h1>{title}</h1>
        <span className="save-status" role="status" data-testid="save-status">
          {saveText}
        </span>
        <button type="button" className="compose-close" onClick={() => void close()} disabled={locked}>
          {t("compose.close")}
        </button>
      </header>
      <div className="compose-actions">
        <button type="button" className="primary" onClick={() => void send()} disabled={locked || uploading(attachments)}>
          {sending ? t("compose.sending") : t("compose.send")}
        </button>
        <button type="button" onClick={() => void saveNow()} disabled={locked}>
          {t("compose.saveDraft")}
        </button>
        <button type="button" onClick={() => fileInputRef.current?.click()} disabled={locked}>
          {t("compose.attach")}
        </button>
        <LargeFileButton large={large} disabled={locked} />
        {limits !== null && (
          <span className="compose-limits" data-testid="compose-limits">
            {t("compose.limits", {
              file: formatSize(limits.max_upload_bytes, t),
              total: formatSize(limits.max_attachments_bytes, t),
            })}
          </span>
        )}
        <input
          ref={fileInputRef}
          type="file"
          multiple
          hidden
          data-testid="compose-file-input"
          onChange={(e) => {
            addFiles(Array.from(e.target.files ?? []));
            e.target.value = "";
          }}
        />
        <button type="button" onClick={toggleToMe} aria-pressed={toMe} disabled={locked}>
          {t("compose.toMe")}
        </button>
        {!toMe && (
          <label className="compose-option">
            <input
              type="checkbox"
              checked={scheduleOn}
              onChange={(e) => {
                setScheduleOn(e.target.checked);
                if (e.target.checked && scheduleAt === "") setScheduleAt(toLocalInput(new Date(Date.now() + 3600_000).toISOString()));
              }}
              disabled={locked}
              data-testid="compose-schedule"
            />{" "}
            {t("outbox.schedule")}
          </label>
        )}
        {!toMe && scheduleOn && (
          <input
            type="datetime-local"
            aria-label={t("outbox.scheduleAt")}
            value={scheduleAt}
            onChange={(e) => setScheduleAt(e.target.value)}
            disabled={locked}
            data-testid="compose-schedule-at"
          />
        )}
        {!toMe && (
          <label className="compose-option">
            <input
              type="checkbox"
              checked={receipt}
              onChange={(e) => setField(setReceipt)(e.target.checked)}
              disabled={locked}
              data-testid="compose-receipt"
            />{" "}
            {t("outbox.receipt")}
          </label>
        )}
        <button type="button" className="danger" onClick={() => void discard()} disabled={locked}>
          {t("compose.discard")}
        </button>
      </div>
      {error !== null && (
        <div className="error compose-error" role="alert" data-testid="compose-error">
          {error}
        </div>
      )}
      <div className="compose-fields">
        {/* Gmail's "send mail as": only when the user has an alias to choose. */}
        {initial.fromChoices.length > 1 && (
          <div className="subject-field from-field">
            <label htmlFor={fromId}>{t("compose.from")}</label>
            <select
              id={fromId}
              value={from}
              disabled={locked}
              onChange={(e) => setField(setFrom)(e.target.value)}
              data-testid="compose-from"
            >
              {initial.fromChoices.map((address) => (
                <option key={address} value={address}>
                  {initial.me.name ? `${singleLine(initial.me.name)} <${address}>` : address}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="recipient-row">
          <RecipientInput
            label={t("compose.to")}
            tokens={to}
            onChange={setField(setTo)}
            suggest={searchContacts}
            disabled={locked || toMe}
            autoFocus={initial.focus === "to"}
            testId="compose-to"
          />
          {!toMe && (
            <button type="button" className="ccbcc-toggle" aria-expanded={showCcBcc} onClick={() => setShowCcBcc(!showCcBcc)}>
              {t("compose.ccBcc")}
            </button>
          )}
        </div>
        {showCcBcc && !toMe && (
          <>
            <RecipientInput label={t("compose.cc")} tokens={cc} onChange={setField(setCc)} suggest={searchContacts} disabled={locked} testId="compose-cc" />
            <RecipientInput label={t("compose.bcc")} tokens={bcc} onChange={setField(setBcc)} suggest={searchContacts} disabled={locked} testId="compose-bcc" />
          </>
        )}
        <div className="subject-field">
          <label htmlFor={subjectId}>{t("compose.subject")}</label>
          <input
            id={subjectId}
            type="text"
            value={subject}
            maxLength={998}
            disabled={locked}
            onChange={(e) => setField(setSubject)(e.target.value)}
            data-testid="compose-subject"
          />
        </div>
      </div>
      <div className="format-switch">
        <button type="button" aria-pressed={format === "text"} onClick={() => switchFormat(format === "text" ? "html" : "text")} disabled={locked}>
          {t("compose.plainText")}
        </button>
      </div>
      {confirmPlain && (
        <div className="confirm" role="alertdialog" aria-label={t("compose.plainText")} data-testid="confirm-plain">
          <p>{t("compose.plainConfirm")}</p>
          <button type="button" onClick={() => switchFormat("text", true)}>
            {t("compose.plainConfirmYes")}
          </button>
          <button type="button" onClick={() => setConfirmPlain(false)}>
            {t("compose.cancel")}
          </button>
        </div>
      )}
      {format === "html" ? (
        <RichEditor
          key={editorKey}
          initialHtml={html}
          onChange={setField(setHtml)}
          label={t("compose.body")}
          disabled={locked}
          autoFocus={initial.focus === "body" && editorKey === 0}
        />
      ) : (
        <textarea
          className="plain-body"
          aria-label={t("compose.body")}
          value={text}
          disabled={locked}
          autoFocus={initial.focus === "body"}
          onChange={(e) => setField(setText)(e.target.value)}
          data-testid="compose-body"
        />
      )}
      <AttachmentList items={attachments} onRemove={removeAttachment} onRetry={retryAttachment} disabled={locked} />
      <LargeFilePanel large={large} disabled={locked} />
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          {t("compose.dropHere")}
        </div>
      )}
    </section>
  );
}
