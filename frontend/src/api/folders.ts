// Folders and the message pages inside them.
import { apiFetch, type JsonResponse } from "./client";

export type FolderList = JsonResponse<"/api/v1/folders", "get">;
export type Folder = FolderList["results"][number];
export type MessagePage = JsonResponse<"/api/v1/folders/{id}/messages", "get">;
export type MessageListItem = MessagePage["results"][number];

export function listFolders(signal?: AbortSignal): Promise<FolderList> {
  return apiFetch("GET", "/api/v1/folders", signal ? { signal } : {});
}

export function listMessages(
  folderId: number,
  cursor: string | null,
  signal?: AbortSignal,
): Promise<MessagePage> {
  return apiFetch("GET", `/api/v1/folders/${folderId}/messages`, {
    query: { cursor, limit: 50 },
    ...(signal ? { signal } : {}),
  });
}
