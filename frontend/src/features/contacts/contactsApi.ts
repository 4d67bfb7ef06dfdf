// The address book API (/api/v1/contacts/…): typed calls, no UI.
import { apiFetch, readCookie, CSRF_COOKIE, ApiError, type JsonResponse, type Schemas } from "../../api/client";

export type ContactPage = JsonResponse<"/api/v1/contacts/entries", "get">;
export type BookContact = Schemas["AddressBookContact"];
export type Group = Schemas["Group"];
export type ContactInput = Schemas["ContactInputRequest"];
export type ImportReport = Schemas["ImportReport"];

export function listContacts(
  q: string,
  group: number | null,
  cursor: string | null,
  signal?: AbortSignal,
): Promise<ContactPage> {
  return apiFetch("GET", "/api/v1/contacts/entries", {
    query: { q: q || null, group, cursor, limit: 100 },
    ...(signal ? { signal } : {}),
  });
}

export function createContact(body: ContactInput): Promise<BookContact> {
  return apiFetch("POST", "/api/v1/contacts/entries", { body });
}

export function updateContact(id: number, body: ContactInput): Promise<BookContact> {
  return apiFetch("PUT", `/api/v1/contacts/entries/${id}`, { body });
}

export function deleteContacts(ids: readonly number[]): Promise<unknown> {
  return apiFetch("POST", "/api/v1/contacts/entries/delete", { body: { ids } });
}

export function listGroups(signal?: AbortSignal): Promise<{ results: Group[] }> {
  return apiFetch("GET", "/api/v1/contacts/groups", signal ? { signal } : {});
}

export function createGroup(name: string): Promise<Group> {
  return apiFetch("POST", "/api/v1/contacts/groups", { body: { name } });
}

export function renameGroup(id: number, name: string): Promise<Group> {
  return apiFetch("PATCH", `/api/v1/contacts/groups/${id}`, { body: { name } });
}

export function deleteGroup(id: number): Promise<unknown> {
  return apiFetch("DELETE", `/api/v1/contacts/groups/${id}`);
}

export function exportUrl(type: "vcard" | "vcard4" | "csv"): string {
  return `/api/v1/contacts/export?type=${type}`;
}

/** Multipart upload of a .vcf/.csv file; the server finds format and encoding. */
export async function importContacts(file: File): Promise<ImportReport> {
  const form = new FormData();
  form.append("file", file);
  const response = await fetch("/api/v1/contacts/import", {
    method: "POST",
    body: form,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": readCookie(CSRF_COOKIE) ?? "" },
  });
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const body = (data ?? {}) as { error?: string; detail?: string };
    throw new ApiError(response.status, body.error ?? `http_${response.status}`, body.detail ?? response.statusText);
  }
  return data as ImportReport;
}

export function getAutoAdd(signal?: AbortSignal): Promise<{ contacts_auto_add: boolean }> {
  return apiFetch("GET", "/api/v1/settings", signal ? { signal } : {});
}

export function setAutoAdd(on: boolean): Promise<unknown> {
  return apiFetch("PATCH", "/api/v1/settings", { body: { contacts_auto_add: on } });
}
