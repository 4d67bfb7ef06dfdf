// Shapes of the endpoints added for issue 4, from the generated schema (make schema).
import type { JsonResponse, Schemas } from "./client";

export type SearchPage = JsonResponse<"/api/v1/messages/search", "get">;
export type SearchItem = SearchPage["results"][number];
export type SpamResult = JsonResponse<"/api/v1/messages/spam", "post">;
export type ShellSettings = JsonResponse<"/api/v1/settings", "get">;
export type SettingsPatch = Schemas["PatchedSettingsPatchRequest"];
