import { describe, expect, it } from "vitest";
import { singleLine } from "./plainText";

describe("singleLine", () => {
  it("removes bidi overrides so a filename shows its real extension", () => {
    expect(singleLine("invoice\u202Efdp.exe")).toBe("invoicefdp.exe");
    expect(singleLine("a\u2066b\u2069c\u200fd")).toBe("abcd");
  });

  it("drops controls and folds line breaks", () => {
    expect(singleLine("Hi\r\nBcc: x\u0000\u0007")).toBe("Hi Bcc: x");
  });

  it("keeps Korean and ordinary punctuation", () => {
    expect(singleLine("회의 <안내> & 일정")).toBe("회의 <안내> & 일정");
  });
});
