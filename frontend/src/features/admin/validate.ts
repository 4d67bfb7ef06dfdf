// Checks the console's forms make before calling the API (the server checks again and has the
// last word; its errors are shown too). Each returns an error key of adminMessages, or null.
import type { AdminKey } from "./adminMessages";

export const MAX_TARGETS = 50;

const LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;

export function checkDomainName(value: string): AdminKey | null {
  const name = value.trim().replace(/\.$/, "");
  if (name === "") return "err.required";
  if (name.length > 253) return "err.domainName";
  const labels = name.split(".");
  if (labels.length < 2) return "err.domainName";
  return labels.every((l) => LABEL.test(l)) ? null : "err.domainName";
}

export function isAddress(value: string): boolean {
  const at = value.lastIndexOf("@");
  if (at <= 0 || at > 64 || value.length > 254) return false;
  const local = value.slice(0, at);
  if (/[\s<>(),;:"[\]\\]/.test(local)) return false;
  return checkDomainName(value.slice(at + 1)) === null;
}

export function checkAddress(value: string): AdminKey | null {
  const v = value.trim();
  if (v === "") return "err.required";
  return isAddress(v) ? null : "err.address";
}

/** An alias source: an address, or "@domain" (the domain's catch-all). */
export function checkSource(value: string): AdminKey | null {
  const v = value.trim();
  if (v === "") return "err.required";
  if (v.startsWith("@")) return checkDomainName(v.slice(1)) === null ? null : "err.source";
  return isAddress(v) ? null : "err.source";
}

export interface Targets {
  targets: string[];
  error: AdminKey | null;
  /** the first entry that is not an address, for the error text */
  bad: string;
}

/** Targets typed as one text: commas, semicolons, spaces or new lines between them. */
export function parseTargets(text: string): Targets {
  const seen = new Set<string>();
  const targets: string[] = [];
  for (const raw of text.split(/[\s,;]+/)) {
    const t = raw.trim();
    if (t === "" || seen.has(t.toLowerCase())) continue;
    seen.add(t.toLowerCase());
    targets.push(t);
  }
  if (targets.length === 0) return { targets, error: "err.targets", bad: "" };
  const bad = targets.find((t) => !isAddress(t));
  if (bad !== undefined) return { targets, error: "err.target", bad };
  if (targets.length > MAX_TARGETS) return { targets, error: "err.tooMany", bad: "" };
  return { targets, error: null, bad: "" };
}

function ipv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function ipv6(text: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return false;
  const double = text.split("::").length - 1;
  if (double > 1) return false;
  const groups = text.split(":").filter((g) => g !== "");
  return groups.length <= 8 && groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g) || ipv4(g));
}

/** An IP address or CIDR network ("192.0.2.0/24", "2001:db8::/48"). */
export function checkNetwork(value: string): AdminKey | null {
  const v = value.trim();
  if (v === "") return "err.required";
  const [ip = "", prefix, extra] = v.split("/");
  if (extra !== undefined) return "err.network2";
  const v4 = ipv4(ip);
  if (!v4 && !ipv6(ip)) return "err.network2";
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (v4 ? 32 : 128)) return "err.network2";
  }
  return null;
}

export function checkPassword(value: string, optional: boolean): AdminKey | null {
  if (value === "") return optional ? null : "err.required";
  return value.length >= 8 ? null : "err.password";
}
