// Conversations: the grouping setting and one conversation's messages across folders.
import { apiFetch, type JsonResponse } from "../../api/client";

export type Conversation = JsonResponse<"/api/v1/conversations/{id}", "get">;
export type ConversationMessage = Conversation["messages"][number];

export function getConversation(id: number, signal?: AbortSignal): Promise<Conversation> {
  return apiFetch("GET", `/api/v1/conversations/${id}`, signal ? { signal } : {});
}

export function setGrouping(on: boolean): Promise<unknown> {
  return apiFetch("PATCH", "/api/v1/settings", { body: { group_by_conversation: on } });
}
