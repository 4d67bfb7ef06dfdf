// One message: its detail (headers, bodies, attachments) and flag changes.
import { apiFetch, type JsonResponse, type Schemas } from "./client";

export type MessageDetail = JsonResponse<"/api/v1/messages/{id}", "get">;
export type Attachment = MessageDetail["attachments"][number];
export type Address = Schemas["Address"];
export type MessagePatch = Schemas["PatchedMessagePatchRequest"];

export function getMessage(id: number, signal?: AbortSignal): Promise<MessageDetail> {
  return apiFetch("GET", `/api/v1/messages/${id}`, signal ? { signal } : {});
}

export function patchMessage(
  id: number,
  patch: MessagePatch,
): Promise<JsonResponse<"/api/v1/messages/{id}", "patch">> {
  return apiFetch("PATCH", `/api/v1/messages/${id}`, { body: patch });
}
