import { describe, expect, it } from "vitest";
import { buildQuery, EMPTY_FIELDS, highlightParts, highlightTerms, parseQuery } from "./searchQuery";

describe("buildQuery / parseQuery", () => {
  it("writes one operator per filled field, quoting values with spaces, and reads it back", () => {
    const fields = {
      ...EMPTY_FIELDS,
      words: "회의",
      from: "Kim Minsu",
      to: "bob",
      subject: "분기",
      body: "실적",
      filename: "보고서.pdf",
      after: "2026-03-01",
      before: "2026-03-31",
      hasAttachment: true,
      read: "unread" as const,
      starred: true,
    };
    const q = buildQuery({ ...fields, words: " 회의 " });
    expect(q).toBe(
      '회의 from:"Kim Minsu" to:bob subject:분기 body:실적 filename:보고서.pdf has:attachment is:unread is:starred after:2026-03-01 before:2026-04-01',
    );
    // The panel's end date is inclusive; before: is exclusive, so it reads back as the same day.
    expect(parseQuery(q)).toEqual(fields);
  });

  it("gives nothing for an empty panel and keeps unknown words as words", () => {
    expect(buildQuery(EMPTY_FIELDS)).toBe("");
    expect(buildQuery({ ...EMPTY_FIELDS, from: '"quoted"' })).toBe("from:quoted");
    expect(parseQuery("note:x in:sent 회의").words).toBe("note:x in:sent 회의");
  });
});

describe("highlighting", () => {
  it("takes words and operator values, folded", () => {
    expect(highlightTerms("ＡＢＣ from:민수 has:attachment is:unread Straße")).toEqual(["abc", "strasse", "민수"]);
  });

  it("marks matches as the server finds them: width, case, inside words", () => {
    expect(highlightParts("Welcome to MAILROOM", ["room"])).toEqual([
      { text: "Welcome to MAIL", hit: false },
      { text: "ROOM", hit: true },
    ]);
    expect(highlightParts("ＡＢＣ회의를", ["abc", "회의"])).toEqual([
      { text: "ＡＢＣ회의", hit: true },
      { text: "를", hit: false },
    ]);
    expect(highlightParts("Die Straße", ["strasse"])).toEqual([
      { text: "Die ", hit: false },
      { text: "Straße", hit: true },
    ]);
    expect(highlightParts("nothing", [])).toEqual([{ text: "nothing", hit: false }]);
  });
});
