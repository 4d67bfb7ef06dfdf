// The compose screen's calls: send, drafts, uploads (XMLHttpRequest, for upload progress),
// delivery state, contacts and settings. Typed from the generated schema where it has them.
import { ApiError, apiFetch, CSRF_COOKIE, errorParams, readCookie, type Schemas } from "../../api/client";

export type SendInput = Schemas["SendInputRequest"];
export type DraftInput = Schemas["DraftInputRequest"];
export type SendResult = Schemas["SendResult"];
export type DraftFields = Schemas["DraftFields"];
export type SavedDraft = Schemas["MessageListItem"];
export type Upload = Schemas["Upload"];
export type DeliveryReport = Schemas["DeliveryReport"];
export type ComposeLimits = Schemas["ComposeLimits"];

export type Contact = Schemas["Contact"];
export type ComposeSettings = Pick<Schemas["Settings"], "display_name" | "signature_html" | "signature_text" | "address">;

export function sendMessage(body: SendInput): Promise<SendResult> {
  return apiFetch("POST", "/api/v1/messages/send", { body });
}

export function createDraft(body: DraftInput): Promise<SavedDraft> {
  return apiFetch("POST", "/api/v1/drafts", { body });
}

export function replaceDraft(id: number, body: DraftInput): Promise<SavedDraft> {
  return apiFetch("PUT", `/api/v1/drafts/${id}`, { body });
}

export function getDraft(id: number, signal?: AbortSignal): Promise<DraftFields> {
  return apiFetch("GET", `/api/v1/drafts/${id}`, signal ? { signal } : {});
}

export function deleteDraft(id: number): Promise<void> {
  return apiFetch("DELETE", `/api/v1/drafts/${id}`);
}

export function deleteUpload(id: number): Promise<void> {
  return apiFetch("DELETE", `/api/v1/uploads/${id}`);
}

export function getDelivery(messageId: number, signal?: AbortSignal): Promise<DeliveryReport> {
  return apiFetch("GET", `/api/v1/messages/${messageId}/delivery`, signal ? { signal } : {});
}

export function searchContacts(q: string, signal?: AbortSignal): Promise<Contact[]> {
  return apiFetch("GET", "/api/v1/contacts", { query: { q }, ...(signal ? { signal } : {}) });
}

/** Per-file and per-message attachment limits (derived on the server from the message size
 * limit, after base64): shown before a file is picked, and checked before uploading. */
export function getComposeLimits(signal?: AbortSignal): Promise<ComposeLimits> {
  return apiFetch("GET", "/api/v1/compose-limits", signal ? { signal } : {});
}

export function getSettings(signal?: AbortSignal): Promise<ComposeSettings> {
  return apiFetch("GET", "/api/v1/settings", signal ? { signal } : {});
}

export interface UploadHandle {
  promise: Promise<Upload>;
  abort: () => void;
}

function uploadError(xhr: XMLHttpRequest): ApiError {
  let payload: unknown = null;
  try {
    payload = JSON.parse(xhr.responseText) as unknown;
  } catch {
    // not ours (a proxy's HTML page): fall through
  }
  if (typeof payload === "object" && payload !== null && "error" in payload) {
    const p = payload as { error: unknown; detail?: unknown; fields?: unknown };
    if (typeof p.error === "string") {
      const fields = typeof p.fields === "object" && p.fields !== null ? (p.fields as Record<string, unknown>) : {};
      const detail = typeof p.detail === "string" ? p.detail : "";
      return new ApiError(xhr.status, p.error, detail, fields, errorParams(payload as Record<string, unknown>));
    }
  }
  if (xhr.status === 413) return new ApiError(413, "upload_too_large", "");
  return new ApiError(xhr.status, `http_${xhr.status}`, xhr.statusText);
}

/** POST /api/v1/uploads with progress (0…1) as the bytes go out. Rejects with ApiError
 * (`upload_too_large`, `network`, …) or an AbortError DOMException. */
export function uploadFile(file: File, onProgress: (fraction: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<Upload>((resolve, reject) => {
    xhr.open("POST", "/api/v1/uploads");
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    const token = readCookie(CSRF_COOKIE);
    if (token) xhr.setRequestHeader("X-CSRFToken", token);
    xhr.upload.onprogress = (event: ProgressEvent) => {
      if (event.lengthComputable && event.total > 0) onProgress(Math.min(1, event.loaded / event.total));
    };
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 200) {
        try {
          onProgress(1);
          resolve(JSON.parse(xhr.responseText) as Upload);
        } catch {
          reject(new ApiError(xhr.status, "invalid_response", "The server's answer was not understood."));
        }
      } else {
        reject(uploadError(xhr));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "The upload was interrupted."));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
