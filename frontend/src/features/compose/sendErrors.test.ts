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

  it("says limits and sizes in the page's words from the code and numbers, never the server's English", () => {
    const daily = new ApiError(429, "daily_limit", "daily sending limit of 500 messages reached", {}, { limit: 500 });
    expect(describeFailure(daily, ko).text).toBe("하루에 보낼 수 있는 메일(500통)을 모두 보냈습니다. 나중에 다시 보내 주세요.");
    expect(describeFailure(daily, en).text).toBe("You have sent as many messages as one day allows (500). Try again later.");
    expect(describeFailure(new ApiError(429, "daily_limit", "x"), ko).text).not.toContain("x");
    const recipients = new ApiError(400, "too_many_recipients", "at most 100 recipients per message", {}, { limit: 100 });
    expect(describeFailure(recipients, ko).text).toBe("메일 한 통은 100명까지 받을 수 있습니다. 여러 번에 나누어 보내 주세요.");
    const english = "The message would be 30.2 MiB after encoding; the limit is 25.0 MiB. Remove or shrink attachments.";
    const tooLarge = new ApiError(
      400,
      "message_too_large",
      english,
      { attachments: [english] },
      { size: 31_666_995, limit: 26_214_400 },
    );
    expect(describeFailure(tooLarge, ko).text).toBe(
      "첨부파일을 포함하면 메일 크기가 30 MiB인데, 보낼 수 있는 크기는 25 MiB까지입니다. 첨부파일을 빼거나 줄여 주세요.",
    );
    expect(describeFailure(tooLarge, en).text).not.toContain("MiB after encoding");
    const attachments = new ApiError(400, "attachments_too_large", "The attachments add up to…", {}, { size: 2048, limit: 1024 });
    expect(describeFailure(attachments, en).text).toContain("2.0 KiB");
    for (const failure of [daily, recipients, tooLarge, attachments]) {
      expect(describeFailure(failure, ko).text).not.toMatch(/[A-Za-z]{4,}/);
    }
  });

  it("explains limits, size, storage and the network in words, in Korean too", () => {
    expect(describeFailure(new ApiError(429, "throttled", "slow down"), en).text).toContain("Too many messages");
    expect(describeFailure(new ApiError(413, "upload_too_large", "The file is larger than the 18.0 MiB upload limit."), ko).text).toBe(
      "파일이 너무 커서 첨부할 수 없습니다.",
    );
    expect(describeFailure(new ApiError(503, "storage_unavailable", "x"), en).text).toContain("Nothing was lost");
    expect(describeFailure(new ApiError(0, "network", "Failed to fetch"), ko).text).toBe("서버에 연결할 수 없습니다.");
    expect(describeFailure(new ApiError(404, "not_found", "Not found."), en).text).toContain("no longer exists");
  });
});
