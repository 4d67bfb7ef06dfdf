// Calls the reading pane makes beyond loading the message: flags, delete, move, spam, the
// "always show images from this sender" list, and the URLs of the byte endpoints.
import { apiFetch, type Schemas } from "../../api/client";
import { listFolders, type Folder } from "../../api/folders";
import type { MessageDetail } from "../../api/messages";
import { currentTimeZone } from "../../lib/timeZone";

/** The detail JSON the reading pane works from. */
export type ReadableMessage = MessageDetail;

export type ImageSender = Schemas["ImageSender"];

/** The body document's URL, with ?images=1 when remote images may load. */
export function bodyUrl(message: ReadableMessage, showImages: boolean): string {
  const base = message.body_url;
  if (!showImages) return base;
  return `${base}${base.includes("?") ? "&" : "?"}images=1`;
}

/** The print page (webmail/api/body.py): headers and the whole body as one document that
 * opens the print dialog itself, so every page of a long mail prints, HTML or text. */
export function printUrl(messageId: number, showImages: boolean, locale: string): string {
  const params = new URLSearchParams({ lang: locale === "en" ? "en" : "ko" });
  params.set("tz", currentTimeZone());
  if (showImages) params.set("images", "1");
  return `/api/v1/messages/${messageId}/print?${params.toString()}`;
}

/** The raw message shown as text in a tab of its own (not downloaded). */
export function sourceUrl(messageId: number): string {
  return `/api/v1/messages/${messageId}/raw?view=1`;
}

export function setFlagged(id: number, flagged: boolean): Promise<unknown> {
  return apiFetch("PATCH", `/api/v1/messages/${id}`, { body: { flagged } });
}

export function setSeen(id: number, seen: boolean): Promise<unknown> {
  return apiFetch("PATCH", `/api/v1/messages/${id}`, { body: { seen } });
}

export function deleteMessage(id: number): Promise<void> {
  return apiFetch<void>("DELETE", `/api/v1/messages/${id}`);
}

export function moveMessage(id: number, folder: number): Promise<unknown> {
  return apiFetch("PATCH", `/api/v1/messages/${id}`, { body: { folder } });
}

export function markSpam(id: number, spam: boolean): Promise<unknown> {
  return apiFetch("POST", "/api/v1/messages/spam", { body: { ids: [id], spam } });
}

export function trustImageSender(address: string): Promise<ImageSender> {
  return apiFetch<ImageSender>("POST", "/api/v1/image-senders", { body: { address } });
}

export async function moveTargets(signal?: AbortSignal): Promise<Folder[]> {
  const list = await listFolders(signal);
  return list.results;
}
