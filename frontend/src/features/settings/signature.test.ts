import { describe, expect, it } from "vitest";
import { signatureHtml } from "./signature";

describe("signatureHtml", () => {
  it("escapes markup and turns line breaks into <br>", () => {
    expect(signatureHtml('Kim <kim@example.kr>\r\n"R&D" team\n')).toBe(
      "Kim &lt;kim@example.kr&gt;<br>&quot;R&amp;D&quot; team",
    );
  });

  it("is empty for an empty or blank signature", () => {
    expect(signatureHtml("")).toBe("");
    expect(signatureHtml(" \n ")).toBe("");
  });
});
