// Detailed search (상세검색) ⇄ the query language of the search box and the API
// (mailcore.search.query): from: to: subject: body: filename: has:attachment is:unread
// is:read is:starred after: before:. The folder goes as the API's folder id, not in:.

export interface DetailedFields {
  words: string;
  from: string;
  to: string;
  subject: string;
  body: string;
  filename: string;
  after: string; // YYYY-MM-DD or ""
  before: string; // YYYY-MM-DD or "" (the panel's "to date" is inclusive: before: is the next day)
  hasAttachment: boolean;
  read: "" | "unread" | "read";
  starred: boolean;
}

export const EMPTY_FIELDS: DetailedFields = {
  words: "",
  from: "",
  to: "",
  subject: "",
  body: "",
  filename: "",
  after: "",
  before: "",
  hasAttachment: false,
  read: "",
  starred: false,
};

const TEXT_FIELDS = ["from", "to", "subject", "body", "filename"] as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `value` as an operator's argument: quoted when it holds spaces (quotes themselves dropped). */
function arg(value: string): string {
  const v = value.replace(/"/g, " ").trim().replace(/\s+/g, " ");
  return /\s/.test(v) ? `"${v}"` : v;
}

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function previousDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** The search-box query of the panel's fields ("" when nothing is filled in). */
export function buildQuery(f: DetailedFields): string {
  const parts: string[] = [];
  const words = f.words.replace(/"/g, " ").trim();
  if (words) parts.push(words.replace(/\s+/g, " "));
  for (const name of TEXT_FIELDS) {
    if (f[name].trim()) parts.push(`${name}:${arg(f[name])}`);
  }
  if (f.hasAttachment) parts.push("has:attachment");
  if (f.read) parts.push(`is:${f.read}`);
  if (f.starred) parts.push("is:starred");
  if (DATE.test(f.after)) parts.push(`after:${f.after}`);
  if (DATE.test(f.before)) parts.push(`before:${nextDay(f.before)}`);
  return parts.join(" ");
}

const TOKEN = /(?:(\w+):)?(?:"([^"]*)"?|(\S+))/g;

/** The panel's fields for a query (the inverse of buildQuery, for opening the panel on the
 * current search); what the panel has no field for stays in `words`. */
export function parseQuery(q: string): DetailedFields {
  const f: DetailedFields = { ...EMPTY_FIELDS };
  const words: string[] = [];
  for (const m of q.matchAll(TOKEN)) {
    const op = (m[1] ?? "").toLowerCase();
    const value = m[2] ?? m[3] ?? "";
    if ((TEXT_FIELDS as readonly string[]).includes(op)) {
      const name = op as (typeof TEXT_FIELDS)[number];
      f[name] = f[name] ? `${f[name]} ${value}` : value;
    } else if (op === "has" && value.toLowerCase() === "attachment") f.hasAttachment = true;
    else if (op === "is" && (value === "unread" || value === "read")) f.read = value;
    else if (op === "is" && value === "starred") f.starred = true;
    else if (op === "after" && DATE.test(value)) f.after = value;
    else if (op === "before" && DATE.test(value)) f.before = previousDay(value);
    else words.push(m[0]);
  }
  f.words = words.join(" ");
  return f;
}

/** The folded form the server matches with (NFKC, case-folded; ß as ss, as Python's casefold). */
export function fold(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/ß/g, "ss").normalize("NFKC");
}

/** The words of a query to mark in results: plain words and the values of text operators. */
export function highlightTerms(q: string): string[] {
  const f = parseQuery(q);
  const words = f.words.split(/\s+/).filter((w) => w && !/^\w+:/.test(w));
  const all = [...words, ...TEXT_FIELDS.flatMap((n) => f[n].split(/\s+/))];
  return [...new Set(all.map(fold).filter(Boolean))];
}

export interface Part {
  text: string;
  hit: boolean;
}

/** `text` cut into runs that do and do not match one of `terms` (folded), as the server
 * matches: per character NFKC + case folding, so ＡＢＣ in a subject is marked for "abc". */
export function highlightParts(text: string, terms: readonly string[]): Part[] {
  if (!terms.length || !text) return [{ text, hit: false }];
  let folded = "";
  const origin: number[] = []; // folded index → index in text
  const chars = Array.from(text);
  let pos = 0;
  for (const ch of chars) {
    const f = fold(ch);
    for (let i = 0; i < f.length; i++) origin.push(pos);
    folded += f;
    pos += ch.length;
  }
  origin.push(text.length);
  const marks = new Array<boolean>(text.length).fill(false);
  for (const term of terms) {
    if (!term) continue;
    for (let i = folded.indexOf(term); i >= 0; i = folded.indexOf(term, i + 1)) {
      const start = origin[i] ?? text.length;
      const end = origin[i + term.length] ?? text.length;
      for (let k = start; k < end; k++) marks[k] = true;
    }
  }
  const parts: Part[] = [];
  for (let i = 0; i < text.length; i++) {
    const hit = marks[i] ?? false;
    const last = parts[parts.length - 1];
    if (last && last.hit === hit) last.text += text[i];
    else parts.push({ text: text[i] ?? "", hit });
  }
  return parts;
}
