// Calls the shell makes beyond reading one folder: folder management, bulk message actions,
// search, the user's list settings. Types come from the generated schema.
import { apiFetch, type JsonResponse, type Schemas } from "./client";
import type { Folder, MessagePage } from "./folders";
import type { SearchPage, SettingsPatch, ShellSettings, SpamResult } from "./shellTypes";

export type FlagName = Schemas["FlagNameEnum"];
export type MessageResults = JsonResponse<"/api/v1/messages/flags", "post">;
export type DeleteResult = JsonResponse<"/api/v1/messages/delete", "post">;
type CreatedFolder = JsonResponse<"/api/v1/folders", "post", 201>;

export function createFolder(name: string): Promise<CreatedFolder> {
  return apiFetch("POST", "/api/v1/folders", { body: { name } });
}

export function renameFolder(id: number, name: string): Promise<CreatedFolder> {
  return apiFetch("PATCH", `/api/v1/folders/${id}`, { body: { name } });
}

export function deleteFolder(id: number): Promise<void> {
  return apiFetch("DELETE", `/api/v1/folders/${id}`);
}

/** Deletes every message of Trash or Junk for good. */
export function emptyFolder(id: number): Promise<void> {
  return apiFetch("POST", `/api/v1/folders/${id}/empty`);
}

export function setFlags(ids: readonly number[], add: FlagName[], remove: FlagName[] = []): Promise<MessageResults> {
  return apiFetch("POST", "/api/v1/messages/flags", { body: { ids, add, remove } });
}

/** The current list rows of these messages: a flags call that changes nothing (the server
 * skips unchanged messages and publishes no change) answers with their present state. */
export function refreshMessages(ids: readonly number[]): Promise<MessageResults> {
  return setFlags(ids, [], []);
}

export function moveMessages(ids: readonly number[], folder: number): Promise<MessageResults> {
  return apiFetch("POST", "/api/v1/messages/move", { body: { ids, folder } });
}

export function deleteMessages(ids: readonly number[]): Promise<DeleteResult> {
  return apiFetch("POST", "/api/v1/messages/delete", { body: { ids } });
}

export function reportSpam(ids: readonly number[], spam: boolean): Promise<SpamResult> {
  return apiFetch("POST", "/api/v1/messages/spam", { body: { ids, spam } });
}

export function listFolderPage(
  folderId: number,
  cursor: string | null,
  limit: number,
  signal?: AbortSignal,
  group: "conversation" | null = null,
): Promise<MessagePage> {
  return apiFetch("GET", `/api/v1/folders/${folderId}/messages`, {
    query: { cursor, limit, group },
    ...(signal ? { signal } : {}),
  });
}

export function searchMessages(
  q: string,
  folder: number | null,
  cursor: string | null,
  limit: number,
  signal?: AbortSignal,
): Promise<SearchPage> {
  return apiFetch("GET", "/api/v1/messages/search", {
    query: { q, folder, cursor, limit },
    ...(signal ? { signal } : {}),
  });
}

export function getShellSettings(signal?: AbortSignal): Promise<ShellSettings> {
  return apiFetch("GET", "/api/v1/settings", signal ? { signal } : {});
}

export type { Folder };

export function patchShellSettings(patch: SettingsPatch): Promise<ShellSettings> {
  return apiFetch("PATCH", "/api/v1/settings", { body: patch });
}
