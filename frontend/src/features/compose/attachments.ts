// The attachments of a message being written, whatever their source: a file uploaded from
// this browser, a part of the draft being edited, or a part of the message being forwarded.
// Pure functions: which ids/indexes a save or send names, and how the parts of a freshly
// saved draft map back onto the list.

interface Common {
  /** Stable for the life of the compose view, whatever the source becomes. */
  key: string;
  filename: string;
  size: number;
  contentType: string;
}

export type AttachmentItem =
  | (Common & {
      kind: "upload";
      status: "uploading" | "done" | "error";
      progress: number;
      uploadId: number | null;
      error: unknown;
      /** the picked file, kept so a failed upload can be tried again */
      file?: File;
    })
  // A part of the draft version we last saved or opened, by its index in that draft.
  | (Common & { kind: "draft"; index: number })
  // A part of the original message of a forward, by its index there.
  | (Common & { kind: "original"; index: number });

export interface AttachmentPayload {
  attachments: number[];
  draft_attachments: number[];
  forward_attachments: number[];
  /** Keys in the order the server adds them to the built message: draft parts, uploads,
   * forwarded parts (webmail.compose.actions._prepare). */
  order: string[];
}

export function attachmentPayload(items: readonly AttachmentItem[]): AttachmentPayload {
  const draft = items.filter((i) => i.kind === "draft");
  const uploads = items.filter(
    (i): i is Extract<AttachmentItem, { kind: "upload" }> =>
      i.kind === "upload" && i.status === "done" && i.uploadId !== null,
  );
  const original = items.filter((i) => i.kind === "original");
  return {
    draft_attachments: draft.map((i) => i.index),
    attachments: uploads.map((i) => i.uploadId as number),
    forward_attachments: original.map((i) => i.index),
    order: [...draft, ...uploads, ...original].map((i) => i.key),
  };
}

export interface DraftPart {
  index: number;
  filename: string;
  content_type: string;
  size: number;
}

/** After a save: the items that went into it now live in the new draft version, in `order`.
 * They become draft parts (by position); items added while the save ran are kept as they
 * are, items removed meanwhile stay removed. If the draft's parts do not line up with what
 * was sent (a draft changed over IMAP), the server's list wins. */
export function mapSavedParts(
  items: readonly AttachmentItem[],
  order: readonly string[],
  parts: readonly DraftPart[],
): AttachmentItem[] {
  const asItem = (key: string, part: DraftPart, fallbackName = ""): AttachmentItem => ({
    key,
    kind: "draft",
    index: part.index,
    filename: part.filename || fallbackName,
    size: part.size,
    contentType: part.content_type,
  });
  if (parts.length !== order.length) {
    const saved = new Set(order);
    return [
      ...parts.map((part) => asItem(`part-${part.index}-${Math.random().toString(36).slice(2)}`, part)),
      ...items.filter((i) => !saved.has(i.key)),
    ];
  }
  const byKey = new Map<string, DraftPart>();
  order.forEach((key, i) => byKey.set(key, parts[i] as DraftPart));
  return items.map((item) => {
    const part = byKey.get(item.key);
    return part ? asItem(item.key, part, item.filename) : item;
  });
}

/** The parts of an opened draft as list items. */
export function draftItems(parts: readonly DraftPart[]): AttachmentItem[] {
  return parts.map((part) => ({
    key: `draft-${part.index}`,
    kind: "draft",
    index: part.index,
    filename: part.filename,
    size: part.size,
    contentType: part.content_type,
  }));
}

export function totalSize(items: readonly AttachmentItem[]): number {
  return items.reduce((sum, i) => sum + (i.kind === "upload" && i.status === "error" ? 0 : i.size), 0);
}

/** Uploads that failed: sending would silently leave them out (issue 12 defect 7). */
export function failedUploads(items: readonly AttachmentItem[]): AttachmentItem[] {
  return items.filter((i) => i.kind === "upload" && i.status === "error");
}

/** What the total line counts: the attachments that will go with the mail. */
export function countedItems(items: readonly AttachmentItem[]): AttachmentItem[] {
  return items.filter((i) => !(i.kind === "upload" && i.status === "error"));
}

export function uploading(items: readonly AttachmentItem[]): boolean {
  return items.some((i) => i.kind === "upload" && i.status === "uploading");
}

export interface AttachmentLimits {
  max_upload_bytes: number;
  max_attachments_bytes: number;
}

export type LimitProblem =
  | { kind: "file"; name: string; size: number; limit: number }
  | { kind: "total"; total: number; limit: number };

/** Which of `files` may be uploaded next to `items` under `limits` (GET /compose-limits):
 * a file over the per-file limit, or one that would take the attachments past what fits in a
 * message, is left out, and the first such problem is returned to be shown. The server checks
 * the same limits; this only spares a doomed upload. */
export function admitFiles(
  items: readonly AttachmentItem[],
  files: readonly File[],
  limits: AttachmentLimits | null,
): { accepted: File[]; problem: LimitProblem | null } {
  if (limits === null) return { accepted: [...files], problem: null };
  const accepted: File[] = [];
  let problem: LimitProblem | null = null;
  let total = totalSize(items);
  for (const file of files) {
    if (file.size > limits.max_upload_bytes) {
      problem ??= { kind: "file", name: file.name, size: file.size, limit: limits.max_upload_bytes };
    } else if (total + file.size > limits.max_attachments_bytes) {
      problem ??= { kind: "total", total: total + file.size, limit: limits.max_attachments_bytes };
    } else {
      accepted.push(file);
      total += file.size;
    }
  }
  return { accepted, problem };
}

/** The problem with sending `items`, if their sizes add up to more than fits in a message. */
export function totalProblem(items: readonly AttachmentItem[], limits: AttachmentLimits | null): LimitProblem | null {
  const total = totalSize(items);
  return limits !== null && total > limits.max_attachments_bytes
    ? { kind: "total", total, limit: limits.max_attachments_bytes }
    : null;
}
