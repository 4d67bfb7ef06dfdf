// The console's calls to /api/v1/admin/… (webmail/adminconsole), typed from the generated
// OpenAPI schema. Errors arrive as ApiError (src/api/client.ts); errorText() words them.
import { apiFetch, type Schemas } from "../../api/client";

export type Account = Schemas["AdminAccount"];
export type AccountCreated = Schemas["AdminAccountCreated"];
export type AccountCreate = Schemas["AdminAccountCreateRequest"];
export type AccountPatch = Schemas["PatchedAdminAccountUpdateRequest"];
export type Alias = Schemas["AdminAlias"];
export type AppPassword = Schemas["AdminAppPassword"];
export type AppPasswordCreated = Schemas["AdminAppPasswordCreated"];
export type AuditEntry = Schemas["AdminAuditEntry"];
export type Dashboard = Schemas["AdminDashboard"];
export type DkimKey = Schemas["AdminDkimKey"];
export type DnsReport = Schemas["AdminDnsReport"];
export type Domain = Schemas["AdminDomain"];
export type DomainPolicy = Schemas["AdminDomainPolicy"];
export type QueueEntry = Schemas["AdminQueueEntry"];
export type RelayRule = Schemas["AdminRelayRule"];
export type RelayRuleCreate = Schemas["AdminRelayRuleCreateRequest"];
export type HeldSender = Schemas["AdminSendingHeldSender"];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

const BASE = "/api/v1/admin";
const enc = encodeURIComponent;

function get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  return apiFetch<T>("GET", `${BASE}/${path}`, { ...(query ? { query } : {}), ...(signal ? { signal } : {}) });
}

function send<T>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown, query?: Query): Promise<T> {
  return apiFetch<T>(method, `${BASE}/${path}`, { ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });
}

/** Drops empty filter values so the URL only carries what the user typed. */
export function cleanQuery(query: Query): Query {
  const out: Query = {};
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") out[k] = typeof v === "string" ? v.trim() : v;
  }
  return out;
}

export const adminApi = {
  dashboard: (days: number, signal?: AbortSignal) => get<Dashboard>("dashboard", { days }, signal),

  domains: (query: Query, signal?: AbortSignal) => get<Page<Domain>>("domains", cleanQuery(query), signal),
  domain: (name: string, signal?: AbortSignal) => get<Domain>(`domains/${enc(name)}`, undefined, signal),
  addDomain: (name: string) => send<Domain>("POST", "domains", { name }),
  patchDomain: (name: string, is_active: boolean) => send<Domain>("PATCH", `domains/${enc(name)}`, { is_active }),
  removeDomain: (name: string, force: boolean) =>
    send<void>("DELETE", `domains/${enc(name)}`, undefined, force ? { force: "true" } : undefined),
  setCatchall: (name: string, targets: string[]) =>
    send<Schemas["AdminCatchall"]>("PUT", `domains/${enc(name)}/catchall`, { targets }),
  removeCatchall: (name: string) => send<void>("DELETE", `domains/${enc(name)}/catchall`),
  domainPolicy: (name: string, signal?: AbortSignal) => get<DomainPolicy>(`domains/${enc(name)}/policy`, undefined, signal),
  patchDomainPolicy: (name: string, patch: { recall_enabled?: boolean | null; forward_outside?: boolean | null }) =>
    send<DomainPolicy>("PATCH", `domains/${enc(name)}/policy`, patch),
  dkim: (name: string, signal?: AbortSignal) => get<Schemas["AdminDkimList"]>(`domains/${enc(name)}/dkim`, undefined, signal),
  generateDkim: (name: string, algorithm: "rsa" | "ed25519") => send<DkimKey>("POST", `domains/${enc(name)}/dkim`, { algorithm }),
  activateDkim: (name: string, selector: string, force: boolean) =>
    send<Schemas["AdminDkimActivation"]>("POST", `domains/${enc(name)}/dkim/${enc(selector)}/activate`, { force }),
  dns: (name: string) => get<DnsReport>(`domains/${enc(name)}/dns`),

  accounts: (query: Query, signal?: AbortSignal) => get<Page<Account>>("accounts", cleanQuery(query), signal),
  account: (id: number, signal?: AbortSignal) => get<Account>(`accounts/${id}`, undefined, signal),
  createAccount: (body: AccountCreate) => send<AccountCreated>("POST", "accounts", body),
  patchAccount: (id: number, body: AccountPatch) => send<Account>("PATCH", `accounts/${id}`, body),
  deleteAccount: (id: number) => send<void>("DELETE", `accounts/${id}`),
  setPassword: (id: number, password: string | null) =>
    send<Schemas["AdminPasswordResult"]>("POST", `accounts/${id}/password`, password === null ? {} : { password }),
  appPasswords: (id: number, signal?: AbortSignal) => get<AppPassword[]>(`accounts/${id}/app-passwords`, undefined, signal),
  createAppPassword: (id: number, name: string) => send<AppPasswordCreated>("POST", `accounts/${id}/app-passwords`, { name }),
  revokeAppPassword: (id: number, ap: number) => send<void>("DELETE", `accounts/${id}/app-passwords/${ap}`),
  accountAliases: (id: number, signal?: AbortSignal) =>
    get<Schemas["AdminAliasList"]>(`accounts/${id}/aliases`, undefined, signal),
  addAccountAlias: (id: number, source: string) => send<Alias>("POST", `accounts/${id}/aliases`, { source }),

  aliases: (query: Query, signal?: AbortSignal) => get<Page<Alias>>("aliases", cleanQuery(query), signal),
  addAlias: (source: string, targets: string[]) => send<Alias>("POST", "aliases", { source, targets }),
  updateAlias: (id: number, targets: string[]) => send<Alias>("PUT", `aliases/${id}`, { targets }),
  removeAlias: (id: number) => send<void>("DELETE", `aliases/${id}`),

  relayRules: (query: Query, signal?: AbortSignal) => get<Page<RelayRule>>("relay-rules", cleanQuery(query), signal),
  addRelayRule: (body: RelayRuleCreate) => send<RelayRule>("POST", "relay-rules", body),
  removeRelayRule: (id: number) => send<void>("DELETE", `relay-rules/${id}`),

  queue: (query: Query, signal?: AbortSignal) => get<Page<QueueEntry>>("queue", cleanQuery(query), signal),
  queueEntry: (id: string, signal?: AbortSignal) => get<QueueEntry>(`queue/${enc(id)}`, undefined, signal),
  retry: (id: string) => send<unknown>("POST", `queue/${enc(id)}/retry`),
  bounce: (id: string) => send<Schemas["AdminBounceResult"]>("POST", `queue/${enc(id)}/bounce`),
  deleteEntry: (id: string) => send<void>("DELETE", `queue/${enc(id)}`),
  flush: () => send<Schemas["AdminFlushResult"]>("POST", "queue/flush"),

  heldSenders: (query: Query, signal?: AbortSignal) => get<Page<HeldSender>>("sending-holds", cleanQuery(query), signal),
  releaseHeld: (accountId: number) =>
    send<Schemas["AdminSendingReleaseResult"]>("POST", `sending-holds/${accountId}/release`),
  deleteHeld: (accountId: number) =>
    send<Schemas["AdminSendingDeleteResult"]>("POST", `sending-holds/${accountId}/delete`, {}),
  deliveryLog: (query: Query, signal?: AbortSignal) => get<Page<QueueEntry>>("delivery-log", cleanQuery(query), signal),

  auditLog: (query: Query, signal?: AbortSignal) => get<Page<AuditEntry>>("audit-log", cleanQuery(query), signal),
};
