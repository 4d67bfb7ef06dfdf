import { describe, expect, it } from "vitest";
import { en, ko } from "./messages";
import { makeTranslate, pickLocale } from "./translate";

describe("i18n", () => {
  it("defaults to Korean for a Korean browser and to English otherwise", () => {
    expect(pickLocale(["ko-KR", "en-US"])).toBe("ko");
    expect(pickLocale(["en-GB"])).toBe("en");
    expect(pickLocale(["fr-FR", "ko"])).toBe("ko");
    expect(pickLocale(["ja-JP"])).toBe("en");
    expect(pickLocale([])).toBe("en");
  });

  it("fills placeholders and leaves unknown ones visible", () => {
    expect(makeTranslate("ko")("folders.unread", { count: 4 })).toBe("안 읽은 메일 4통");
    expect(makeTranslate("en")("folders.unread")).toBe("{count} unread");
  });

  it("has every key in both languages, none empty", () => {
    expect(Object.keys(ko).sort()).toEqual(Object.keys(en).sort());
    for (const value of [...Object.values(ko), ...Object.values(en)]) expect(value).not.toBe("");
  });
});
