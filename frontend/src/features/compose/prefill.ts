// What a reply, reply-all or forward starts with: subject, recipients and the quoted original
// (text or HTML). Mirrors mailcore.mime.build (reply_subject, reply_recipients, quote_text) so
// the form shows what the server would have derived. Pure functions, no UI.
import { addressKey } from "./addresses";

export interface Person {
  name: string;
  address: string;
}

export interface Original {
  subject: string;
  from: Person;
  to: readonly Person[];
  cc: readonly Person[];
  reply_to: readonly Person[];
  text: string;
  html: string | null;
}

// mailcore.mime.build._ANY_PREFIX_RE: every stacked Re:/Fwd: (and their Korean and European
// forms, with optional [n] counters) goes, then exactly one prefix is put back.
const PREFIX_RE = /^\s*((re|aw|sv|antw|fwd?|tr|wg|답장|회신|전달)\s*(\[\d+\])?\s*:\s*)+/iu;

export function stripPrefixes(subject: string): string {
  return subject.replace(PREFIX_RE, "").trim();
}

export function replySubject(subject: string): string {
  const rest = stripPrefixes(subject);
  return rest ? `Re: ${rest}` : "Re:";
}

export function forwardSubject(subject: string): string {
  const rest = stripPrefixes(subject);
  return rest ? `Fwd: ${rest}` : "Fwd:";
}

function dedupe(people: readonly Person[], already: readonly Person[] = []): Person[] {
  const seen = new Set(already.map((p) => addressKey(p.address)));
  const out: Person[] = [];
  for (const p of people) {
    const key = addressKey(p.address);
    if (!p.address || seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

/** (To, Cc) of a reply: Reply-To (else From); reply-all adds the original To and Cc. The
 * user's own addresses (its aliases and +tags too) are left out, except that answering one's own message (in Sent)
 * goes to that message's recipients, as mail clients do. */
export function replyRecipients(
  original: Original,
  replyAll: boolean,
  ownAddresses: readonly string[],
): { to: Person[]; cc: Person[] } {
  const own = new Set(ownAddresses.map(addressKey));
  const mine = (p: Person): boolean => {
    const key = addressKey(p.address);
    return own.has(key) || own.has(key.replace(/\+[^@]*@/, "@")); // alice+news@ is alice@ (mailcore's recipient delimiter)
  };
  const authors = (original.reply_to.length ? original.reply_to : [original.from]).filter(
    (p) => p.address,
  );
  let to: Person[] =
    authors.length > 0 && authors.every(mine)
      ? original.to.filter((p) => !mine(p))
      : authors.filter((p) => !mine(p));
  let cc: Person[] = [];
  if (replyAll) {
    to = [...to, ...original.to.filter((p) => !mine(p))];
    cc = original.cc.filter((p) => !mine(p));
  }
  to = dedupe(to);
  cc = dedupe(cc, to);
  return { to, cc };
}

/** The From of a reply or forward: the first of the user's addresses the original was sent
 * to, To before Cc (one of their aliases, as Gmail does), else the first choice (their own). */
export function replyFrom(original: Original, choices: readonly string[]): string {
  const byKey = new Map(choices.map((a) => [addressKey(a), a]));
  for (const p of [...original.to, ...original.cc]) {
    const hit = byKey.get(addressKey(p.address));
    if (hit !== undefined) return hit;
  }
  return choices[0] ?? "";
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Plain text as editor paragraphs: one <p> per line, empty lines kept. */
export function textToHtml(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").replace(/\n$/, "").split("\n");
  return lines.map((line) => (line ? `<p>${escapeHtml(line)}</p>` : "<p></p>")).join("");
}

/** `> ` before every line of the original (a line already quoted gets only `>`). */
export function quoteLines(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
  return lines.map((line) => (line && !line.startsWith(">") ? `> ${line}` : `>${line}`)).join("\n");
}

/** The quote below a plain-text reply: the "On …, X wrote:" line and the quoted text. */
export function quoteText(original: Original, header: string): string {
  const body = original.text || (original.html ? htmlToText(original.html) : "");
  return `${header}\n${quoteLines(body)}\n`;
}

/** The quote below an HTML reply. `original.html` is the server's sanitized HTML; the editor
 * parses it once more into its own schema, so nothing outside that schema survives. */
export function quoteHtml(original: Original, header: string): string {
  const inner = original.html ?? textToHtml(original.text);
  return `<p>${escapeHtml(header)}</p><blockquote>${inner}</blockquote>`;
}

export interface ForwardLabels {
  title: string;
  from: string;
  date: string;
  subject: string;
  to: string;
  cc: string;
}

function people(list: readonly Person[]): string {
  return list.map((p) => (p.name ? `${p.name} <${p.address}>` : p.address)).join(", ");
}

function forwardHead(original: Original, date: string, labels: ForwardLabels): string[] {
  const head = [
    `---------- ${labels.title} ----------`,
    `${labels.from}: ${people([original.from])}`,
    `${labels.date}: ${date}`,
    `${labels.subject}: ${original.subject}`,
    `${labels.to}: ${people(original.to)}`,
  ];
  if (original.cc.length) head.push(`${labels.cc}: ${people(original.cc)}`);
  return head;
}

export function forwardText(original: Original, date: string, labels: ForwardLabels): string {
  const body = original.text || (original.html ? htmlToText(original.html) : "");
  return `${forwardHead(original, date, labels).join("\n")}\n\n${body}`;
}

export function forwardHtml(original: Original, date: string, labels: ForwardLabels): string {
  const head = forwardHead(original, date, labels).map((line) => `<p>${escapeHtml(line)}</p>`);
  return `${head.join("")}<p></p>${original.html ?? textToHtml(original.text)}`;
}

const BLOCK = new Set([
  "P", "DIV", "H1", "H2", "H3", "H4", "H5", "H6", "UL", "OL", "LI", "BLOCKQUOTE", "PRE", "TABLE",
  "TR", "HR", "SECTION", "ARTICLE", "HEADER", "FOOTER",
]);

/** HTML → readable plain text: blocks on their own lines, lists with "- " / "1. ", quotes
 * with "> ", links as "text <url>" when the URL is not the text itself. */
export function htmlToText(html: string): string {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const lines: string[] = [];
  let line = "";
  const flush = (): void => {
    lines.push(line);
    line = "";
  };
  const walk = (node: Node, prefix: string): void => {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = (node.textContent ?? "").replace(/\s+/g, " ");
      line += line === "" ? text.replace(/^ /, "") : text;
      return;
    }
    if (!(node instanceof Element)) return;
    const tag = node.tagName;
    if (tag === "SCRIPT" || tag === "STYLE" || tag === "HEAD") return;
    if (tag === "BR") {
      lines.push(prefix + line);
      line = "";
      return;
    }
    if (tag === "HR") {
      if (line) lines.push(prefix + line);
      lines.push(`${prefix}----`);
      line = "";
      return;
    }
    const block = BLOCK.has(tag);
    // A list item's marker waits for the item's first paragraph.
    if (block && line && !/^(?:- |\d+\. )$/.test(line)) {
      lines.push(prefix + line);
      line = "";
    }
    let childPrefix = prefix;
    if (tag === "BLOCKQUOTE") childPrefix = `${prefix}> `;
    if (tag === "LI") {
      const parent = node.parentElement;
      const marker =
        parent?.tagName === "OL" ? `${Array.from(parent.children).indexOf(node) + 1}. ` : "- ";
      line = marker;
    }
    if (tag === "PRE") {
      for (const l of (node.textContent ?? "").replace(/\n$/, "").split("\n")) lines.push(childPrefix + l);
      return;
    }
    for (const child of Array.from(node.childNodes)) walk(child, childPrefix);
    if (tag === "A") {
      const href = node.getAttribute("href") ?? "";
      const text = (node.textContent ?? "").trim();
      if (href && !href.startsWith("mailto:") && href !== text && `http://${text}` !== href && `https://${text}` !== href) {
        line += ` <${href}>`;
      }
    }
    if (block) {
      if (line || tag === "P") lines.push(childPrefix + line.trimEnd());
      line = "";
    }
  };
  for (const child of Array.from(doc.body.childNodes)) walk(child, "");
  if (line) flush();
  return lines
    .map((l) => l.replace(/[ \t]+$/, ""))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\n+$/g, "");
}

const FORMATTING_RE = /<(b|strong|i|em|u|s|strike|a|ul|ol|blockquote|h[1-6]|code|pre|hr|table|img)\b/i;

/** True when switching this HTML to plain text would lose formatting (asks for a confirm). */
export function hasFormatting(html: string): boolean {
  return FORMATTING_RE.test(html);
}
