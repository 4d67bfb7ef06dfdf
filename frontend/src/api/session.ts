// Browser sign-in: GET hands out the CSRF cookie (and says who is signed in), POST signs in,
// DELETE signs out.
import { ApiError, apiFetch, type JsonResponse, type Schemas } from "./client";

export type SessionUser = JsonResponse<"/api/v1/auth/session", "get">;
export type LoginRequest = Schemas["LoginRequest"];

const PATH = "/api/v1/auth/session";

/** The signed-in user, or null when nobody is (403); either way the CSRF cookie is set. */
export async function getSession(signal?: AbortSignal): Promise<SessionUser | null> {
  try {
    return await apiFetch<SessionUser>("GET", PATH, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 401)) {
      return null;
    }
    throw err;
  }
}

export function signIn(body: LoginRequest): Promise<JsonResponse<typeof PATH, "post">> {
  return apiFetch("POST", PATH, { body });
}

export function signOut(): Promise<void> {
  return apiFetch<void>("DELETE", PATH);
}
