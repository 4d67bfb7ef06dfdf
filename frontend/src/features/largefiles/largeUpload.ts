// 대용량 첨부 uploads (issue 14 §4): a session per file, chunks PATCHed at the server's
// committed `Upload-Offset`, a dropped chunk retried after asking the server where it stands,
// the SHA-256 checked at the end. Upload ids are kept in localStorage so a reloaded tab can
// resume (the browser forgets the File itself: the user picks it again).
import { ApiError, CSRF_COOKIE, apiFetch, readCookie, toError, type Schemas } from "../../api/client";
import { Sha256 } from "./sha256";

export type UploadSession = Schemas["UploadSession"];
export type SentLargeFile = Schemas["SentLargeFile"];
export type LinkedLargeFile = Schemas["LinkedLargeFile"];
export type LargeFileLimits = Schemas["LargeFileLimits"];

export const CHUNK_BYTES = 8 * 1024 * 1024;
const STORE_KEY = "mailroom.largeUploads";
const RETRIES = 8;

/** What localStorage keeps of an upload to resume it after a reload. */
export interface PendingUpload {
  id: string;
  name: string;
  size: number;
  lastModified: number;
}

function readStore(): PendingUpload[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORE_KEY) ?? "[]");
    return Array.isArray(parsed) ? (parsed as PendingUpload[]).filter((p) => typeof p.id === "string") : [];
  } catch {
    return [];
  }
}

export function pendingUploads(): PendingUpload[] {
  return readStore();
}

export function rememberUpload(p: PendingUpload): void {
  localStorage.setItem(STORE_KEY, JSON.stringify([...readStore().filter((x) => x.id !== p.id), p]));
}

export function forgetUpload(id: string): void {
  localStorage.setItem(STORE_KEY, JSON.stringify(readStore().filter((x) => x.id !== id)));
}

/** The re-picked file is the one that was being uploaded (same name, size and date). */
export function sameFile(p: PendingUpload, file: File): boolean {
  return p.name === file.name && p.size === file.size && p.lastModified === file.lastModified;
}

export function limits(signal?: AbortSignal): Promise<LargeFileLimits> {
  return apiFetch("GET", "/api/v1/largefiles/limits", signal ? { signal } : {});
}

export function createSession(file: File): Promise<UploadSession> {
  return apiFetch("POST", "/api/v1/largefiles/uploads", {
    body: { filename: file.name, size: file.size, content_type: file.type },
  });
}

export function getSession(id: string): Promise<UploadSession> {
  return apiFetch("GET", `/api/v1/largefiles/uploads/${id}`);
}

export function dropSession(id: string): Promise<void> {
  return apiFetch("DELETE", `/api/v1/largefiles/uploads/${id}`);
}

export function listSent(messageId?: number, signal?: AbortSignal): Promise<SentLargeFile[]> {
  return apiFetch("GET", "/api/v1/largefiles", {
    query: { message: messageId },
    ...(signal ? { signal } : {}),
  });
}

export function expireNow(id: string): Promise<SentLargeFile> {
  return apiFetch("DELETE", `/api/v1/largefiles/${id}`);
}

export function linkedFiles(messageId: number, signal?: AbortSignal): Promise<LinkedLargeFile[]> {
  return apiFetch("GET", `/api/v1/messages/${messageId}/large-files`, signal ? { signal } : {});
}

/** PATCH one chunk; the committed offset after it (or the server's, on offset_mismatch). */
async function putChunk(id: string, offset: number, blob: Blob, signal: AbortSignal): Promise<number> {
  const headers: Record<string, string> = {
    Accept: "application/json",
    "Content-Type": "application/offset+octet-stream",
    "Upload-Offset": String(offset),
  };
  const csrf = readCookie(CSRF_COOKIE);
  if (csrf) headers["X-CSRFToken"] = csrf;
  let response: Response;
  try {
    response = await fetch(`/api/v1/largefiles/uploads/${id}`, {
      method: "PATCH",
      headers,
      body: blob,
      credentials: "same-origin",
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ApiError(0, "network", err instanceof Error ? err.message : String(err));
  }
  if (response.status === 409) {
    const body = (await response.clone().json().catch(() => null)) as { offset?: unknown } | null;
    if (body && typeof body.offset === "number") return body.offset;
  }
  if (!response.ok) throw await toError(response);
  return ((await response.json()) as UploadSession).offset;
}

const retryable = (err: unknown): boolean =>
  err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.code === "chunk_incomplete" || err.code === "upload_busy");

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    });
  });

/** A Blob's bytes (FileReader where Blob.arrayBuffer is missing, as in jsdom). */
export function readBlob(blob: Blob): Promise<ArrayBuffer> {
  if (typeof blob.arrayBuffer === "function") return blob.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error ?? new Error("cannot read the file"));
    reader.readAsArrayBuffer(blob);
  });
}

export interface Progress {
  phase: "uploading" | "checking";
  fraction: number;
}

/** Upload the rest of `file` into `session` (from its committed offset), then check and finish. */
export async function runUpload(
  file: File,
  session: UploadSession,
  onProgress: (p: Progress) => void,
  signal: AbortSignal,
): Promise<UploadSession> {
  if (session.state !== "uploading") return session;
  const chunk = Math.min(CHUNK_BYTES, session.chunk_max_bytes);
  let offset = session.offset;
  let failures = 0;
  onProgress({ phase: "uploading", fraction: offset / file.size });
  while (offset < file.size) {
    try {
      offset = await putChunk(session.id, offset, file.slice(offset, offset + chunk), signal);
      failures = 0;
    } catch (err) {
      if (signal.aborted || !retryable(err) || ++failures > RETRIES) throw err;
      // A dropped connection: wait, ask the server what it has, go on from there.
      await pause(Math.min(10_000, 500 * 2 ** failures), signal);
      offset = (await getSession(session.id).catch(() => ({ offset }))).offset;
    }
    onProgress({ phase: "uploading", fraction: offset / file.size });
  }
  const sha = new Sha256();
  for (let at = 0; at < file.size; at += CHUNK_BYTES) {
    if (signal.aborted) throw new DOMException("aborted", "AbortError");
    sha.update(new Uint8Array(await readBlob(file.slice(at, at + CHUNK_BYTES))));
    onProgress({ phase: "checking", fraction: Math.min(1, (at + CHUNK_BYTES) / file.size) });
  }
  return apiFetch("POST", `/api/v1/largefiles/uploads/${session.id}/finish`, { body: { sha256: sha.hex() } });
}
