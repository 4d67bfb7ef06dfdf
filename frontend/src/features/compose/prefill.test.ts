import { describe, expect, it } from "vitest";
import {
  forwardHtml,
  forwardSubject,
  forwardText,
  hasFormatting,
  htmlToText,
  quoteHtml,
  quoteText,
  replyFrom,
  replyRecipients,
  replySubject,
  textToHtml,
  type Original,
} from "./prefill";

const original: Original = {
  subject: "Lunch",
  from: { name: "Bob", address: "bob@example.com" },
  to: [
    { name: "Alice", address: "alice@example.com" },
    { name: "Carol", address: "carol@example.com" },
  ],
  cc: [
    { name: "", address: "ALICE@example.com" },
    { name: "Dan", address: "dan@example.com" },
    { name: "Bob again", address: "bob@example.com" },
  ],
  reply_to: [],
  text: "Hi all,\n> earlier\n\nsee you",
  html: null,
};

describe("subjects", () => {
  it.each([
    ["Lunch", "Re: Lunch", "Fwd: Lunch"],
    ["Re: Lunch", "Re: Lunch", "Fwd: Lunch"],
    ["RE: Re: re:Lunch", "Re: Lunch", "Fwd: Lunch"],
    ["Fwd: Re: Lunch", "Re: Lunch", "Fwd: Lunch"],
    ["FW: Lunch", "Re: Lunch", "Fwd: Lunch"],
    ["Re[2]: Lunch", "Re: Lunch", "Fwd: Lunch"],
    ["답장: 회신: 점심", "Re: 점심", "Fwd: 점심"],
    ["전달: 점심", "Re: 점심", "Fwd: 점심"],
    ["AW: Treffen", "Re: Treffen", "Fwd: Treffen"],
    ["", "Re:", "Fwd:"],
    ["Regarding the plan", "Re: Regarding the plan", "Fwd: Regarding the plan"],
  ])("%j → %j / %j", (subject, reply, forward) => {
    expect(replySubject(subject)).toBe(reply);
    expect(forwardSubject(subject)).toBe(forward);
  });
});

describe("replyRecipients", () => {
  it("answers the sender only on a plain reply", () => {
    expect(replyRecipients(original, false, ["alice@example.com"])).toEqual({
      to: [{ name: "Bob", address: "bob@example.com" }],
      cc: [],
    });
  });

  it("reply-all adds To and Cc, without the user's own address (any case) or duplicates", () => {
    const { to, cc } = replyRecipients(original, true, ["Alice@Example.COM"]);
    expect(to.map((p) => p.address)).toEqual(["bob@example.com", "carol@example.com"]);
    expect(cc.map((p) => p.address)).toEqual(["dan@example.com"]);
  });

  it("leaves out the user's aliases and +tag addresses too", () => {
    const toAliases: Original = {
      ...original,
      to: [
        { name: "", address: "sales@example.com" },
        { name: "", address: "alice+news@example.com" },
        { name: "Carol", address: "carol@example.com" },
      ],
      cc: [{ name: "", address: "dan+x@example.com" }],
    };
    const { to, cc } = replyRecipients(toAliases, true, ["alice@example.com", "sales@example.com"]);
    expect(to.map((p) => p.address)).toEqual(["bob@example.com", "carol@example.com"]);
    expect(cc.map((p) => p.address)).toEqual(["dan+x@example.com"]);
  });

  it("answers from the alias the original was sent to, else from the first choice", () => {
    const choices = ["alice@example.com", "sales@example.com", "info@example.com"];
    const toSales = { ...original, to: [{ name: "", address: "Sales@Example.com" }] };
    expect(replyFrom(toSales, choices)).toBe("sales@example.com");
    // To before Cc: sent to alice@ and Cc info@, answered from alice@.
    const toBoth = { ...original, cc: [{ name: "", address: "info@example.com" }] };
    expect(replyFrom(toBoth, choices)).toBe("alice@example.com");
    expect(replyFrom(original, ["sales@example.com", "info@example.com"])).toBe("sales@example.com");
    expect(replyFrom(original, choices)).toBe("alice@example.com");
    expect(replyFrom(original, [])).toBe("");
  });

  it("prefers Reply-To over From", () => {
    const withReplyTo = { ...original, reply_to: [{ name: "List", address: "list@example.com" }] };
    expect(replyRecipients(withReplyTo, false, ["alice@example.com"]).to).toEqual([
      { name: "List", address: "list@example.com" },
    ]);
  });

  it("answering one's own sent message goes to its recipients", () => {
    const mine: Original = {
      ...original,
      from: { name: "Alice", address: "alice@example.com" },
      to: [{ name: "Bob", address: "bob@example.com" }],
      cc: [],
    };
    expect(replyRecipients(mine, false, ["alice@example.com"]).to).toEqual([{ name: "Bob", address: "bob@example.com" }]);
  });
});

describe("quotes", () => {
  it("quotes every text line once, keeping already-quoted lines", () => {
    expect(quoteText(original, "On 1 May, Bob wrote:")).toBe(
      "On 1 May, Bob wrote:\n> Hi all,\n>> earlier\n>\n> see you\n",
    );
  });

  it("puts the (sanitized) HTML original in a blockquote and escapes the header", () => {
    const html = quoteHtml({ ...original, html: "<p><b>Hi</b></p>" }, "On 1 May, <Bob> wrote:");
    expect(html).toBe("<p>On 1 May, &lt;Bob&gt; wrote:</p><blockquote><p><b>Hi</b></p></blockquote>");
  });

  it("turns a text-only original into escaped paragraphs inside the blockquote", () => {
    const html = quoteHtml({ ...original, text: "a <b>\n\nc" }, "h");
    expect(html).toBe("<p>h</p><blockquote><p>a &lt;b&gt;</p><p></p><p>c</p></blockquote>");
  });

  it("builds the forward header block", () => {
    const labels = { title: "Forwarded message", from: "From", date: "Date", subject: "Subject", to: "To", cc: "Cc" };
    const text = forwardText(original, "1 May 2024", labels);
    expect(text.split("\n").slice(0, 6)).toEqual([
      "---------- Forwarded message ----------",
      "From: Bob <bob@example.com>",
      "Date: 1 May 2024",
      "Subject: Lunch",
      "To: Alice <alice@example.com>, Carol <carol@example.com>",
      "Cc: ALICE@example.com, Dan <dan@example.com>, Bob again <bob@example.com>",
    ]);
    expect(text.endsWith("\n\nHi all,\n> earlier\n\nsee you")).toBe(true);
    expect(forwardHtml(original, "1 May", labels)).toContain("<p>From: Bob &lt;bob@example.com&gt;</p>");
  });
});

describe("html ↔ text", () => {
  it("converts editor HTML into readable text", () => {
    const html =
      "<p>Hello <strong>Bob</strong>,</p><p></p><ul><li><p>one</p></li><li><p>two</p></li></ul>" +
      '<ol><li><p>first</p></li></ol><blockquote><p>quoted</p><p>more</p></blockquote><p>see <a href="https://x.kr/a">this</a></p>';
    expect(htmlToText(html)).toBe(
      "Hello Bob,\n\n- one\n- two\n1. first\n> quoted\n> more\nsee this <https://x.kr/a>",
    );
  });

  it("round-trips plain text through editor paragraphs", () => {
    const text = "line 1\n\nline <3>";
    expect(textToHtml(text)).toBe("<p>line 1</p><p></p><p>line &lt;3&gt;</p>");
    expect(htmlToText(textToHtml(text))).toBe(text);
  });

  it("knows when switching to plain text loses formatting", () => {
    expect(hasFormatting("<p>just text</p><p></p>")).toBe(false);
    expect(hasFormatting("<p>a <em>b</em></p>")).toBe(true);
    expect(hasFormatting('<p><a href="https://x">x</a></p>')).toBe(true);
    expect(hasFormatting("<blockquote><p>q</p></blockquote>")).toBe(true);
  });
});
