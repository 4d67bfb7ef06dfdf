import { describe, expect, it } from "vitest";
import { checkPasswordForm } from "./passwordCheck";

describe("checkPasswordForm", () => {
  it("accepts a complete, matching, new password", () => {
    expect(checkPasswordForm({ current: "old-secret", next: "new-secret-1", confirm: "new-secret-1" })).toEqual({});
  });

  it("names each problem by field", () => {
    expect(checkPasswordForm({ current: "", next: "", confirm: "" })).toEqual({
      current: "currentMissing",
      next: "newMissing",
    });
    expect(checkPasswordForm({ current: "x", next: "1234567", confirm: "1234567" })).toEqual({ next: "tooShort" });
    expect(checkPasswordForm({ current: "same-pass", next: "same-pass", confirm: "same-pass" })).toEqual({
      next: "sameAsCurrent",
    });
    expect(checkPasswordForm({ current: "x", next: "long-enough", confirm: "long-enougH" })).toEqual({
      confirm: "mismatch",
    });
  });
});
