// The settings endpoints (contracts.md, "api-read"): preferences, trusted image senders,
// password, app passwords, signing out everywhere. The last loaded settings are cached for
// the session so the reading pane knows the remote-image policy without asking again.
import { apiFetch, type Schemas } from "../../api/client";
import type { ImageSender } from "../message-view/readingApi";

export type UserSettings = Schemas["Settings"];
export type SettingsPatch = Schemas["PatchedSettingsPatchRequest"];
export type RemoteImagePolicy = UserSettings["remote_images"];
export type PageSize = UserSettings["page_size"];
export type AppPassword = Schemas["AppPassword"];
export type PasswordPolicy = Schemas["PasswordPolicy"];
export type LoginRecord = Schemas["LoginRecord"];
export type ActiveSessions = Schemas["ActiveSessions"];
export type LoginHistoryPage = Schemas["AdminLoginPage"];
export type CreatedAppPassword = Schemas["AppPasswordCreated"];

export const PAGE_SIZES: readonly PageSize[] = [25, 50, 100];
export const REMOTE_IMAGE_POLICIES: readonly RemoteImagePolicy[] = ["ask", "always", "never"];

let cached: Promise<UserSettings> | null = null;

/** The user's settings. `fresh` asks the server again (a screen that mounts does, so another
 * tab's change or another user signing in on this page is never shown stale); otherwise the
 * last answer (or the request in flight) is reused. */
export function loadSettings(fresh = false): Promise<UserSettings> {
  if (!cached || fresh) {
    const request = apiFetch<UserSettings>("GET", "/api/v1/settings");
    cached = request;
    // A failed load is not remembered: the next caller asks again.
    request.catch(() => {
      if (cached === request) cached = null;
    });
    return request;
  }
  return cached;
}

export async function saveSettings(patch: SettingsPatch): Promise<UserSettings> {
  const saved = await apiFetch<UserSettings>("PATCH", "/api/v1/settings", { body: patch });
  cached = Promise.resolve(saved);
  return saved;
}

/** Tests only: forget the cached settings. */
export function resetSettingsCache(): void {
  cached = null;
}

export function listImageSenders(signal?: AbortSignal): Promise<ImageSender[]> {
  return apiFetch("GET", "/api/v1/image-senders", signal ? { signal } : {});
}

export function removeImageSender(id: number): Promise<void> {
  return apiFetch<void>("DELETE", `/api/v1/image-senders/${id}`);
}

export function changePassword(current_password: string, new_password: string): Promise<void> {
  return apiFetch<void>("POST", "/api/v1/settings/password", { body: { current_password, new_password } });
}

export function getPasswordPolicy(signal?: AbortSignal): Promise<PasswordPolicy> {
  return apiFetch("GET", "/api/v1/settings/password-policy", signal ? { signal } : {});
}

export function listLoginHistory(cursor: string | null, signal?: AbortSignal): Promise<LoginHistoryPage> {
  return apiFetch("GET", "/api/v1/settings/login-history", {
    query: { cursor, limit: 50 },
    ...(signal ? { signal } : {}),
  });
}

export function listSessions(signal?: AbortSignal): Promise<ActiveSessions> {
  return apiFetch("GET", "/api/v1/settings/sessions", signal ? { signal } : {});
}

export function endSession(id: number | "token"): Promise<void> {
  return apiFetch<void>("DELETE", `/api/v1/settings/sessions/${id}`);
}

export function listAppPasswords(signal?: AbortSignal): Promise<AppPassword[]> {
  return apiFetch("GET", "/api/v1/app-passwords", signal ? { signal } : {});
}

export function createAppPassword(name: string): Promise<CreatedAppPassword> {
  return apiFetch("POST", "/api/v1/app-passwords", { body: { name } });
}

export function revokeAppPassword(id: number): Promise<void> {
  return apiFetch<void>("DELETE", `/api/v1/app-passwords/${id}`);
}

export function signOutEverywhere(): Promise<void> {
  return apiFetch<void>("POST", "/api/v1/auth/logout-everywhere");
}

export type Pop3Settings = Schemas["Pop3Settings"];
export const POP3_DELETE_POLICIES: readonly Pop3Settings["on_delete"][] = ["delete", "keep", "read"];

export function loadPop3Settings(signal?: AbortSignal): Promise<Pop3Settings> {
  return apiFetch("GET", "/api/v1/settings/pop3", signal ? { signal } : {});
}

export function savePop3Settings(patch: Partial<Pop3Settings>): Promise<Pop3Settings> {
  return apiFetch("PATCH", "/api/v1/settings/pop3", { body: patch });
}
