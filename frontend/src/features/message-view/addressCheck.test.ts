import { describe, expect, it } from "vitest";
import { nameWarning } from "./addressCheck";

describe("nameWarning", () => {
  it.each([
    ["security@bank.example", "evil@x.example", "address"],
    ['"Alice <alice@ours.example>"', "evil@x.example", "address"],
    ["support＠bank.example", "evil@x.example", "address"], // full-width at sign
    ["a\u202E@b", "evil@x.example", "address"],
    ["PayPal.com", "service@evil.example", "domain"],
    ["Kim from naver.com team", "kim@evil.example", "domain"],
  ])("flags %j from %s", (name, address, reason) => {
    expect(nameWarning(name, address)).toBe(reason);
  });

  it.each([
    ["", "bob@example.com"],
    ["Bob", "bob@example.com"],
    ["김철수", "cs@example.kr"],
    ["bob@example.com", "bob@example.com"],
    ["<BOB@Example.com>", "bob@example.com"],
    ["Amazon.com", "no-reply@amazon.com"],
    ["Booking.com", "noreply@mailer.booking.com"],
    ["Dr. Smith", "smith@example.com"],
    ["v2.0 release bot", "bot@example.com"],
  ])("trusts %j from %s", (name, address) => {
    expect(nameWarning(name, address)).toBeNull();
  });
});
