// What the compose form starts with, per way of opening it: a new message (with the
// signature, or ?to=), a reply / reply-all / forward of a stored message (subject, recipients,
// the quoted original, the original's attachments), or a draft being continued.
import { getMessage, type MessageDetail } from "../../api/messages";
import { getSession } from "../../api/session";
import type { Locale } from "../../i18n/messages";
import type { Translate } from "../../i18n/translate";
import { formatFullDate } from "../../lib/formatDate";
import { parseAddress } from "./addresses";
import { draftItems, type AttachmentItem } from "./attachments";
import { getDraft, getSettings, type ComposeSettings } from "./composeApi";
import {
  forwardHtml,
  forwardSubject,
  forwardText,
  quoteHtml,
  quoteText,
  replyFrom,
  replyRecipients,
  replySubject,
  textToHtml,
  type Original,
  type Person,
} from "./prefill";
import { makeToken, tokensFrom, type Token } from "./RecipientInput";

export type UiMode = "new" | "draft" | "reply" | "replyall" | "forward";
export type ApiMode = "new" | "reply" | "reply_all" | "forward";
export type BodyFormat = "html" | "text";

export interface Initial {
  apiMode: ApiMode;
  originalId: number | null;
  draftId: number | null;
  me: Person;
  /** the From address chosen, and the addresses the user may send as (own first, aliases) */
  from: string;
  fromChoices: string[];
  to: Token[];
  cc: Token[];
  bcc: Token[];
  subject: string;
  format: BodyFormat;
  html: string;
  text: string;
  attachments: AttachmentItem[];
  focus: "to" | "body";
  /** the draft asks for a read receipt (MDN) */
  requestReceipt?: boolean;
}

const FORMAT_KEY = "mailroom.compose.format";

export function preferredFormat(): BodyFormat {
  return globalThis.localStorage?.getItem(FORMAT_KEY) === "text" ? "text" : "html";
}

export function rememberFormat(format: BodyFormat): void {
  globalThis.localStorage?.setItem(FORMAT_KEY, format);
}

function people(list: readonly Person[]): Token[] {
  return list.map((p) => makeToken(parseAddress(p.name ? `"${p.name.replace(/(["\\])/g, "\\$1")}" <${p.address}>` : p.address)));
}

/** The signature blocks (HTML and text) to put above a quote; empty when there is none. */
export function signatureBlocks(settings: ComposeSettings | null): { html: string; text: string } {
  if (!settings) return { html: "", text: "" };
  const text = settings.signature_text.trim();
  const html = settings.signature_html.trim() || (text ? textToHtml(text) : "");
  return { html, text: text ? `-- \n${text}` : "" };
}

/** The body of a fresh message: an empty line to write on, the signature, then the quote. */
export function composeBody(
  format: BodyFormat,
  signature: { html: string; text: string },
  quote: { html: string; text: string } | null,
): string {
  if (format === "html") {
    let html = "<p></p>";
    if (signature.html) html += `<p></p>${signature.html}`;
    if (quote) html += `<p></p>${quote.html}`;
    return html;
  }
  let text = "\n";
  if (signature.text) text += `\n${signature.text}\n`;
  if (quote) text += `\n${quote.text}`;
  return text;
}

function asOriginal(m: MessageDetail): Original {
  return { subject: m.subject, from: m.from, to: m.to, cc: m.cc, reply_to: m.reply_to, text: m.text, html: m.html };
}

export interface LoadRequest {
  mode: UiMode;
  id: number | null;
  to: string;
}

export async function loadInitial(req: LoadRequest, t: Translate, locale: Locale, signal: AbortSignal): Promise<Initial> {
  const sessionPromise = getSession(signal);
  const settingsPromise = getSettings(signal).catch(() => null); // no signature is not fatal
  const [session, settings] = await Promise.all([sessionPromise, settingsPromise]);
  const me: Person = {
    name: settings?.display_name ?? session?.display_name ?? "",
    address: settings?.address || session?.address || "",
  };
  const fromChoices = session?.addresses?.length ? session.addresses : [me.address];
  const base = { me, from: fromChoices[0] ?? me.address, fromChoices, bcc: [] as Token[], originalId: null, draftId: null };

  if (req.mode === "draft" && req.id !== null) {
    const d = await getDraft(req.id, signal);
    const html = d.html;
    const from = d.from_address || base.from;
    return {
      ...base,
      // The original may have been deleted since: then the draft goes on as a new message.
      apiMode: d.in_reply_to_message === null ? "new" : d.mode,
      originalId: d.in_reply_to_message,
      draftId: d.id,
      requestReceipt: d.request_receipt,
      from,
      // An address no longer among the user's: shown, so the draft is never silently changed
      // (sending from it is then refused in words).
      fromChoices: fromChoices.includes(from) ? fromChoices : [...fromChoices, from],
      to: d.to.map((a) => makeToken(parseAddress(a))),
      cc: d.cc.map((a) => makeToken(parseAddress(a))),
      bcc: d.bcc.map((a) => makeToken(parseAddress(a))),
      subject: d.subject,
      format: html !== null ? "html" : "text",
      html: html ?? "",
      text: d.text,
      attachments: draftItems(d.draft_attachments),
      focus: d.to.length ? "body" : "to",
    };
  }

  const signature = signatureBlocks(settings);
  const format = preferredFormat();
  if (req.mode !== "new" && req.id !== null) {
    const message = await getMessage(req.id, signal);
    const original = asOriginal(message);
    const date = formatFullDate(message.date, locale);
    if (req.mode === "forward") {
      const labels = {
        title: t("compose.forward.title"),
        from: t("view.from"),
        date: t("view.date"),
        subject: t("compose.subject"),
        to: t("view.to"),
        cc: t("view.cc"),
      };
      const quote = { html: forwardHtml(original, date, labels), text: forwardText(original, date, labels) };
      const body = composeBody(format, signature, quote);
      return {
        ...base,
        apiMode: "forward",
        originalId: message.id,
        from: replyFrom(original, fromChoices),
        to: [],
        cc: [],
        subject: forwardSubject(message.subject),
        format,
        html: format === "html" ? body : "",
        text: format === "text" ? body : "",
        attachments: message.attachments
          .filter((a) => !a.inline || message.html === null)
          .map((a) => ({
            key: `original-${a.index}`,
            kind: "original" as const,
            index: a.index,
            filename: a.filename,
            size: a.size,
            contentType: a.content_type,
          })),
        focus: "to",
      };
    }
    const replyAll = req.mode === "replyall";
    const { to, cc } = replyRecipients(original, replyAll, [...fromChoices, me.address]);
    const author = message.from.name || message.from.address || t("compose.someone");
    const header = t("compose.quoteHeader", { date, name: author });
    const quote = { html: quoteHtml(original, header), text: quoteText(original, header) };
    const body = composeBody(format, signature, quote);
    return {
      ...base,
      apiMode: replyAll ? "reply_all" : "reply",
      originalId: message.id,
      from: replyFrom(original, fromChoices),
      to: people(to),
      cc: people(cc),
      subject: replySubject(message.subject),
      format,
      html: format === "html" ? body : "",
      text: format === "text" ? body : "",
      attachments: [],
      focus: to.length ? "body" : "to",
    };
  }

  const body = composeBody(format, signature, null);
  return {
    ...base,
    apiMode: "new",
    to: req.to ? tokensFrom(req.to) : [],
    cc: [],
    subject: "",
    format,
    html: format === "html" ? body : "",
    text: format === "text" ? body : "",
    attachments: [],
    focus: req.to ? "body" : "to",
  };
}
