// A failed send, draft save or upload in words, from the API's error codes (webmail/api/errors.py,
// webmail/api/compose.py): refused recipients by address, limits, size, storage, network.
import { ApiError } from "../../api/client";
import type { Translate } from "../../i18n/translate";
import { formatSize } from "../../lib/formatSize";

export type RecipientField = "to" | "cc" | "bcc";

export interface RecipientProblem {
  field?: RecipientField;
  index?: number;
  address?: string;
  reason: string;
}

export interface Failure {
  text: string;
  recipients: RecipientProblem[];
}

function messages(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messages);
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(messages);
  return [];
}

/** Per-address problems from DRF's list-field errors: {"to": {"1": ["…"]}}. */
function fieldProblems(fields: Readonly<Record<string, unknown>>): RecipientProblem[] {
  const out: RecipientProblem[] = [];
  for (const field of ["to", "cc", "bcc"] as const) {
    const value = fields[field];
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const [index, reasons] of Object.entries(value)) {
        out.push({ field, index: Number(index), reason: messages(reasons).join(" ") });
      }
    } else if (value !== undefined) {
      out.push({ field, reason: messages(value).join(" ") });
    }
  }
  return out;
}

/** A sending limit in words, with the number the server sent (`limit`); never its English. */
function limitText(error: ApiError, t: Translate): string {
  const limit = error.params.limit;
  switch (error.code) {
    case "daily_limit":
      return limit ? t("compose.error.daily", { limit }) : t("compose.error.dailyNoCount");
    case "too_many_recipients":
      return limit ? t("compose.error.recipientLimit", { limit }) : t("compose.error.recipientLimitNoCount");
    default:
      return t("compose.error.sendLimit");
  }
}

/** A message or its attachments too large, with the sizes the server sent (bytes). */
function sizeText(error: ApiError, t: Translate): string {
  const { size, limit } = error.params;
  const known = size !== undefined && limit !== undefined;
  if (error.code === "attachments_too_large") {
    return known
      ? t("compose.error.attachmentsTooLarge", { total: formatSize(size, t), limit: formatSize(limit, t) })
      : t("compose.error.attachmentsNoCount");
  }
  return known
    ? t("compose.error.messageSize", { size: formatSize(size, t), limit: formatSize(limit, t) })
    : t("compose.error.messageSizeNoCount");
}

export function describeFailure(error: unknown, t: Translate): Failure {
  if (!(error instanceof ApiError)) {
    return { text: t("error.generic", { detail: String(error) }), recipients: [] };
  }
  const detail = error.detail || error.code;
  switch (error.code) {
    case "network":
      return { text: t("error.network"), recipients: [] };
    case "recipient_rejected": {
      // mailcore.delivery.submit: "<address>: reason"
      const match = /^<([^>]*)>:\s*(.*)$/s.exec(error.detail);
      const problem: RecipientProblem = match
        ? { address: match[1] ?? "", reason: match[2] ?? "" }
        : { reason: error.detail };
      const list = match ? `${problem.address} (${problem.reason})` : error.detail;
      return { text: t("compose.error.refused", { list }), recipients: [problem] };
    }
    case "daily_limit":
    case "too_many_recipients":
    case "send_limit":
      return { text: limitText(error, t), recipients: [] };
    case "sender_not_allowed":
      return { text: t("compose.error.sender"), recipients: [] };
    case "message_too_large":
    case "attachments_too_large":
      return { text: sizeText(error, t), recipients: [] };
    case "upload_too_large":
      // The server's English sentence stays out of the (Korean) page: the limit is shown in
      // the compose form itself (compose-limits).
      return { text: t("compose.error.uploadTooLarge", { detail: "" }).trim(), recipients: [] };
    case "not_found":
      return { text: t("compose.error.notFound"), recipients: [] };
    case "storage_unavailable":
      return { text: t("compose.error.storage"), recipients: [] };
    case "invalid":
    case "invalid_message": {
      const recipients = fieldProblems(error.fields);
      if (recipients.length > 0) {
        const list = recipients.map((r) => r.reason).filter(Boolean).join("; ");
        return { text: t("compose.error.recipients", { detail: list }), recipients };
      }
      return { text: t("compose.error.invalid", { detail }), recipients };
    }
    default:
      if (error.status === 429) return { text: t("compose.error.rateLimit"), recipients: [] };
      if (error.status === 413) return { text: t("compose.error.uploadTooLarge", { detail: "" }).trim(), recipients: [] };
      return { text: t("error.generic", { detail }), recipients: [] };
  }
}
