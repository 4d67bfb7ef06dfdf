// The one fetch wrapper: same-origin session cookie, Django's CSRF cookie echoed in
// X-CSRFToken on unsafe methods, JSON in and out, and ApiError carrying the server's
// {error, detail, fields}. No UI and no state here.
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

type Method = "get" | "post" | "put" | "patch" | "delete";

/** The JSON body a path answers with on `status`, straight from the OpenAPI schema. */
export type JsonResponse<
  P extends keyof paths,
  M extends Method,
  S extends number = 200,
> = paths[P][M] extends { responses: infer R }
  ? S extends keyof R
    ? R[S] extends { content: { "application/json": infer J } }
      ? J
      : never
    : never
  : never;

export class ApiError extends Error {
  readonly status: number;
  /** Machine-readable code from the server (`not_found`, `invalid_credentials`, …), or
   * `network` / `http_<status>` when the answer was not one of ours. */
  readonly code: string;
  readonly detail: string;
  readonly fields: Readonly<Record<string, unknown>>;
  /** Numbers that come with some codes (`limit`, `size`), for the UI's own text. */
  readonly params: Readonly<Record<string, number>>;
  /** The same tree as `fields` with stable codes (`password_too_common`, `required`, …). */
  readonly fieldCodes: Readonly<Record<string, unknown>>;

  constructor(
    status: number,
    code: string,
    detail: string,
    fields: Record<string, unknown> = {},
    params: Record<string, number> = {},
    fieldCodes: Record<string, unknown> = {},
  ) {
    super(`${status} ${code}: ${detail}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.fields = fields;
    this.params = params;
    this.fieldCodes = fieldCodes;
  }
}

export const CSRF_COOKIE = "csrftoken";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return null;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
}

function withQuery(path: string, query: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The numeric members of an error body ({"error": "daily_limit", "limit": 500, …}). */
export function errorParams(payload: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
  }
  return out;
}

export async function toError(response: Response): Promise<ApiError> {
  let payload: unknown = null;
  try {
    payload = await response.json();
  } catch {
    // Not JSON (a proxy's HTML error page, an empty 502): fall through to the generic error.
  }
  if (isRecord(payload) && typeof payload.error === "string") {
    const detail = typeof payload.detail === "string" ? payload.detail : "";
    const fields = isRecord(payload.fields) ? payload.fields : {};
    const fieldCodes = isRecord(payload.field_codes) ? payload.field_codes : {};
    return new ApiError(response.status, payload.error, detail, fields, errorParams(payload), fieldCodes);
  }
  return new ApiError(response.status, `http_${response.status}`, response.statusText);
}

/** Calls the API; resolves with the parsed JSON (undefined for 204), rejects with ApiError. */
export async function apiFetch<T>(
  method: Uppercase<Method>,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) {
    const token = readCookie(CSRF_COOKIE);
    if (token) headers["X-CSRFToken"] = token;
  }
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  if (options.signal) init.signal = options.signal;
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), init);
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", err instanceof Error ? err.message : String(err));
  }
  if (!response.ok) throw await toError(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}
