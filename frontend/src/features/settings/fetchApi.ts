// The external-account endpoints (/api/v1/settings/fetch-accounts, issue 11 §7–9) and the
// plain words for a fetch failure's reason code.
import { ApiError, apiFetch, type Schemas } from "../../api/client";
import type { MessageKey } from "../../i18n/messages";
import type { Translate } from "../../i18n/translate";

export type ExternalAccount = Schemas["ExternalAccount"];
export type ExternalAccountInput = Schemas["ExternalAccountInputRequest"];
export type ExternalAccountPatch = Schemas["PatchedExternalAccountPatchRequest"];

export const PROTOCOLS: readonly ExternalAccount["protocol"][] = ["imap", "pop3"];
export const SECURITIES: readonly ExternalAccount["security"][] = ["tls", "starttls", "none"];
/** The usual port of each protocol and security (what the form fills in). */
export function defaultPort(protocol: string, security: string): number {
  const tls = security === "tls";
  return protocol === "pop3" ? (tls ? 995 : 110) : tls ? 993 : 143;
}

const BASE = "/api/v1/settings/fetch-accounts";

export function listExternalAccounts(signal?: AbortSignal): Promise<ExternalAccount[]> {
  return apiFetch("GET", BASE, signal ? { signal } : {});
}

export function createExternalAccount(body: ExternalAccountInput): Promise<ExternalAccount> {
  return apiFetch("POST", BASE, { body });
}

export function updateExternalAccount(id: number, body: ExternalAccountPatch): Promise<ExternalAccount> {
  return apiFetch("PATCH", `${BASE}/${id}`, { body });
}

export function deleteExternalAccount(id: number): Promise<void> {
  return apiFetch<void>("DELETE", `${BASE}/${id}`);
}

export function requestFetch(id: number): Promise<ExternalAccount> {
  return apiFetch("POST", `${BASE}/${id}/runs`);
}

const REASONS = [
  "dns",
  "refused",
  "timeout",
  "network",
  "tls",
  "certificate",
  "login",
  "in_use",
  "unavailable",
  "private_target",
  "plaintext",
  "protocol",
  "no_uidl",
  "over_quota",
  "too_large",
  "password_unreadable",
  "storage",
  "internal",
] as const;

/** A fetch failure in plain words (the reason's sentence) and the server's own text. */
export function fetchErrorWords(t: Translate, reason: string, detail: string): string {
  const known = (REASONS as readonly string[]).includes(reason);
  const key = (known ? `fetch.error.${reason}` : "fetch.error.other") as MessageKey;
  return detail ? `${t(key)} ${t("fetch.serverSaid", { detail })}` : t(key);
}

/** The reason code of an API error from adding or changing an account (fetch_<reason>). */
export function reasonOf(error: unknown): string | null {
  return error instanceof ApiError && error.code.startsWith("fetch_") ? error.code.slice(6) : null;
}
