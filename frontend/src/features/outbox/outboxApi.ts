// Calls of the outbox (issue 14): scheduled list, undo/cancel, send now, reschedule, recall,
// read status, the outbox settings and the read-receipt prompt. Types from the schema.
import { apiFetch, type Schemas } from "../../api/client";
import { zonedInputToIso } from "../../lib/timeZone";

export type OutboxItem = Schemas["OutboxItem"];
export type ItemStatus = Schemas["ItemStatus"];
export type RecipientStatus = Schemas["RecipientStatus"];
export type SentSummary = Schemas["SentSummary"];
export type OutboxSettings = Schemas["OutboxSettings"];
export type ReceiptRequest = Schemas["ReceiptRequest"];
export type RecallResult = Schemas["RecallResult"];

const opts = (signal?: AbortSignal) => (signal ? { signal } : {});

export function listScheduled(signal?: AbortSignal): Promise<OutboxItem[]> {
  return apiFetch("GET", "/api/v1/outbox", opts(signal));
}

/** Undo send / cancel a scheduled message; resolves to the draft id to reopen. */
export async function cancelSend(id: number): Promise<number | null> {
  const done = await apiFetch<{ draft: number | null }>("DELETE", `/api/v1/outbox/${id}`);
  return done.draft;
}

export function reschedule(id: number, sendAt: string | null): Promise<OutboxItem> {
  return apiFetch("PATCH", `/api/v1/outbox/${id}`, { body: { send_at: sendAt } });
}

export function recall(id: number): Promise<{ recipients: RecallResult[] }> {
  return apiFetch("POST", `/api/v1/outbox/${id}/recall`);
}

export function readStatus(messageId: number, signal?: AbortSignal): Promise<ItemStatus> {
  return apiFetch("GET", `/api/v1/messages/${messageId}/read-status`, opts(signal));
}

export async function sentStatus(ids: number[], signal?: AbortSignal): Promise<SentSummary[]> {
  const found = await apiFetch<{ items: SentSummary[] }>("GET", "/api/v1/outbox/sent-status", {
    query: { ids: ids.join(",") },
    ...opts(signal),
  });
  return found.items;
}

export function getOutboxSettings(signal?: AbortSignal): Promise<OutboxSettings> {
  return apiFetch("GET", "/api/v1/outbox/settings", opts(signal));
}

export function saveOutboxSettings(patch: Partial<OutboxSettings>): Promise<OutboxSettings> {
  return apiFetch("PATCH", "/api/v1/outbox/settings", { body: patch });
}

export function getReceipt(messageId: number, signal?: AbortSignal): Promise<ReceiptRequest> {
  return apiFetch("GET", `/api/v1/messages/${messageId}/receipt`, opts(signal));
}

export function answerReceipt(messageId: number, choice: "send" | "decline" | "always"): Promise<ReceiptRequest> {
  return apiFetch("POST", `/api/v1/messages/${messageId}/receipt`, { body: { choice } });
}

/** A datetime-local value (wall time in the zone of Settings, else the browser's) as an ISO
 * instant. */
export function localInputToIso(value: string): string | null {
  return value ? zonedInputToIso(value) : null;
}
