// Recipient parsing for the compose form: split what was typed or pasted into addresses,
// check each one the way the server's parse_recipient does (display names, IDN domains,
// UTF-8 local parts), and format them back for the API. Pure functions, no UI.

export type AddressProblem = "empty" | "control" | "noAt" | "local" | "domain" | "tooLong";

export interface ParsedAddress {
  /** The text as the user typed it (kept so an invalid token can be edited). */
  raw: string;
  name: string;
  /** The address as typed (U-label domains stay readable). */
  address: string;
  problem: AddressProblem | null;
}

// RFC 5322 atext plus UTF-8 (RFC 6531), like mailcore.addresses._DOT_ATOM_LOCAL.
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\u{10ffff}-]+";
const LOCAL_RE = new RegExp(`^${ATEXT}(\\.${ATEXT})*$`, "u");
const LABEL_RE = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// mailcore.mime.build._HEADER_BAD_RE: line breaks and other controls (tab is allowed).
const CONTROL_RE = /[\x00-\x08\x0a-\x1f\x7f]/;
const NAME_ADDR_RE = /^\s*(.*?)\s*<([^<>]*)>\s*$/s;

/** Splits a list on `,` `;` and line breaks that are outside "quotes" and <angle brackets>. */
export function splitAddressList(input: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  let angle = false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    if (quoted) {
      current += c;
      if (c === "\\" && i + 1 < input.length) current += input[++i];
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
      current += c;
    } else if (c === "<") {
      angle = true;
      current += c;
    } else if (c === ">") {
      angle = false;
      current += c;
    } else if (!angle && (c === "," || c === ";" || c === "\n" || c === "\r")) {
      if (current.trim()) parts.push(current.trim());
      current = "";
    } else {
      current += c;
    }
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

/** The A-label form of a domain, or null when it is not a host name. */
export function domainToAscii(domain: string): string | null {
  const value = domain.trim();
  if (!value || value.endsWith(".") || value.startsWith("[") || value.length > 255) return null;
  let ascii: string;
  if (/^[\x00-\x7f]*$/.test(value)) {
    ascii = value.toLowerCase();
  } else {
    // The URL parser applies UTS #46 (IDNA) like the server's idna.encode(uts46=True).
    try {
      ascii = new URL(`http://${value}/`).hostname;
    } catch {
      return null;
    }
  }
  if (ascii.length > 253 || !ascii.split(".").every((label) => LABEL_RE.test(label))) return null;
  return ascii;
}

function checkAddress(address: string): AddressProblem | null {
  if (!address) return "empty";
  if (CONTROL_RE.test(address)) return "control";
  const at = address.lastIndexOf("@");
  if (at < 0) return "noAt";
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (address.length > 320) return "tooLong";
  if (!local || /[<>,;"() ]/.test(address) || !LOCAL_RE.test(local.normalize("NFC"))) return "local";
  if (new TextEncoder().encode(local.normalize("NFC")).length > 64) return "tooLong";
  if (!domain || domainToAscii(domain) === null) return "domain";
  return null;
}

/** One address as typed: `a@b.example`, `<a@b.example>`, `Kim <a@b.example>`, `"Kim, J" <a@b>`. */
export function parseAddress(raw: string): ParsedAddress {
  const text = raw.trim();
  if (CONTROL_RE.test(text)) return { raw: text, name: "", address: text, problem: "control" };
  let name = "";
  let address = text;
  const match = NAME_ADDR_RE.exec(text);
  if (match) {
    name = (match[1] ?? "").trim();
    address = (match[2] ?? "").trim();
    if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) {
      name = name.slice(1, -1).replace(/\\(["\\])/g, "$1");
    }
  }
  name = name.split(/\s+/).filter(Boolean).join(" ");
  let problem = checkAddress(address);
  if (!problem && (CONTROL_RE.test(name) || name.length > 200)) problem = "control";
  return { raw: text, name, address, problem };
}

/** A whole pasted or typed list: one entry per address. */
export function parseAddressList(input: string): ParsedAddress[] {
  return splitAddressList(input).map(parseAddress);
}

/** The form the API takes: `"Name" <address>` (quoted, so commas in names are safe) or the
 * bare address. */
export function formatAddress({ name, address }: { name: string; address: string }): string {
  if (!name) return address;
  return `"${name.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}" <${address}>`;
}

/** Comparable form: lower-case, NFC local part and A-label domain (mailcore's canonical form). */
export function addressKey(address: string): string {
  const at = address.lastIndexOf("@");
  if (at < 0) return address.trim().toLowerCase();
  const local = address.slice(0, at).normalize("NFC").toLowerCase();
  const domain = address.slice(at + 1);
  return `${local}@${domainToAscii(domain) ?? domain.toLowerCase()}`;
}
