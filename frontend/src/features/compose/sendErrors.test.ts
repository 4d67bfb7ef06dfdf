import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/client";
import { makeTranslate } from "../../i18n/translate";
import { describeFailure } from "./sendErrors";

const en = makeTranslate("en");
const ko = makeTranslate("ko");

describe("describeFailure", () => {
  it("names a refused recipient and why", () => {
    const failure = describeFailure(
      new ApiError(400, "recipient_rejected", "<nobody@example.com>: no such local mailbox"),
      en,
    );
    expect(failure.text).toBe("These recipients were refused: nobody@example.com (no such local mailbox)");
    expect(failure.recipients).toEqual([{ address: "nobody@example.com", reason: "no such local mailbox" }]);
  });

  it("maps per-address field errors to the field and position", () => {
    const failure = describeFailure(
      new ApiError(400, "invalid", "to: 1: 'x' is not a valid address", {
        to: { "1": ["'x' is not a valid address"] },
        cc: ["too many"],
      }),
      en,
    );
    expect(failure.recipients).toEqual([
      { field: "to", index: 1, reason: "'x' is not a valid address" },
      { field: "cc", reason: "too many" },
    ]);
    expect(failure.text).toContain("'x' is not a valid address");
  });

  it("explains limits, size, storage and the network in words, in Korean too", () => {
    expect(describeFailure(new ApiError(429, "daily_limit", "daily sending limit of 500 messages reached"), en).text).toBe(
      "You reached your daily sending limit. Try again later. (daily sending limit of 500 messages reached)",
    );
    expect(describeFailure(new ApiError(429, "throttled", "slow down"), en).text).toContain("Too many messages");
    const tooLarge = new ApiError(400, "invalid", "attachments: …", {
      attachments: ["The message would be 30.2 MiB after encoding; the limit is 25.0 MiB. Remove or shrink attachments."],
    });
    expect(describeFailure(tooLarge, en).text).toBe(
      "The message is too large: The message would be 30.2 MiB after encoding; the limit is 25.0 MiB. Remove or shrink attachments.",
    );
    expect(describeFailure(new ApiError(413, "upload_too_large", "The file is larger than the 18.0 MiB upload limit."), ko).text).toBe(
      "파일이 너무 커서 첨부할 수 없습니다.",
    );
    expect(describeFailure(new ApiError(503, "storage_unavailable", "x"), en).text).toContain("Nothing was lost");
    expect(describeFailure(new ApiError(0, "network", "Failed to fetch"), ko).text).toBe("서버에 연결할 수 없습니다.");
    expect(describeFailure(new ApiError(404, "not_found", "Not found."), en).text).toContain("no longer exists");
  });
});
