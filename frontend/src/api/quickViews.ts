// The quick views (안읽은메일, 중요메일, 첨부메일): pages over all folders but Trash/Junk with
// the list filters, and how many messages each view holds.
import type { QuickView } from "../lib/route";
import { apiFetch, type JsonResponse } from "./client";

export type ViewPage = JsonResponse<"/api/v1/messages", "get">;
export type ViewCounts = JsonResponse<"/api/v1/messages/counts", "get">;

/** The API filter of each view. */
export const VIEW_FILTER: Record<QuickView, "unread" | "flagged" | "has_attachments"> = {
  unread: "unread",
  flagged: "flagged",
  attachments: "has_attachments",
};

export function listViewPage(view: QuickView, cursor: string | null, limit: number, signal?: AbortSignal): Promise<ViewPage> {
  return apiFetch("GET", "/api/v1/messages", {
    query: { [VIEW_FILTER[view]]: true, cursor, limit },
    ...(signal ? { signal } : {}),
  });
}

export function getViewCounts(signal?: AbortSignal): Promise<ViewCounts> {
  return apiFetch("GET", "/api/v1/messages/counts", signal ? { signal } : {});
}
