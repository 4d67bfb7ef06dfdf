// The rule endpoints (settings/rules, /script, /jobs, blocked-senders, forwarding, vacation):
// typed calls only; the sections keep their own state.
import { apiFetch, type Schemas } from "../../api/client";

export type Rule = Schemas["RuleRequest"];
export type Condition = Schemas["ConditionRequest"];
export type RuleAction = Schemas["ActionRequest"];
export type Rules = Schemas["Rules"];
export type Script = Schemas["Script"];
export type BlockedSender = Schemas["BlockedSender"];
export type Forwarding = Schemas["Forwarding"];
export type Vacation = Schemas["Vacation"];
export type VacationInput = Schemas["VacationRequest"];
export type RuleJob = Schemas["RuleJob"];

export const CONDITION_FIELDS: readonly Condition["field"][] = [
  "from",
  "to",
  "subject",
  "body",
  "header",
  "size",
  "attachment",
  "dmarc",
  "spam_score",
];
export const TEXT_OPS = ["contains", "not_contains", "is", "matches", "regex"] as const;
export const ACTION_TYPES: readonly RuleAction["type"][] = [
  "move",
  "star",
  "read",
  "keyword",
  "forward",
  "delete",
  "reject",
  "stop",
];

const opts = (signal?: AbortSignal): { signal?: AbortSignal } => (signal ? { signal } : {});

export const loadRules = (signal?: AbortSignal): Promise<Rules> =>
  apiFetch<Rules>("GET", "/api/v1/settings/rules", opts(signal));
export const saveRules = (rules: Rule[]): Promise<Rules> =>
  apiFetch<Rules>("PUT", "/api/v1/settings/rules", { body: { rules } });
export const saveScript = (script: string): Promise<Script> =>
  apiFetch<Script>("PUT", "/api/v1/settings/rules/script", { body: { script } });

export const startRuleJob = (folder: number): Promise<RuleJob> =>
  apiFetch<RuleJob>("POST", "/api/v1/settings/rules/jobs", { body: { folder } });
export const loadRuleJob = (id: number): Promise<RuleJob> =>
  apiFetch<RuleJob>("GET", `/api/v1/settings/rules/jobs/${id}`);

export const loadBlocked = (signal?: AbortSignal): Promise<BlockedSender[]> =>
  apiFetch<BlockedSender[]>("GET", "/api/v1/settings/blocked-senders", opts(signal));
export const blockSender = (value: string): Promise<BlockedSender> =>
  apiFetch<BlockedSender>("POST", "/api/v1/settings/blocked-senders", { body: { value } });
export const unblockSender = (id: number): Promise<void> =>
  apiFetch<void>("DELETE", `/api/v1/settings/blocked-senders/${id}`);

export const loadForwarding = (signal?: AbortSignal): Promise<Forwarding> =>
  apiFetch<Forwarding>("GET", "/api/v1/settings/forwarding", opts(signal));
export const saveForwarding = (body: Forwarding): Promise<Forwarding> =>
  apiFetch<Forwarding>("PUT", "/api/v1/settings/forwarding", { body });

export const loadVacation = (signal?: AbortSignal): Promise<Vacation> =>
  apiFetch<Vacation>("GET", "/api/v1/settings/vacation", opts(signal));
export const saveVacation = (body: VacationInput): Promise<Vacation> =>
  apiFetch<Vacation>("PUT", "/api/v1/settings/vacation", { body });
