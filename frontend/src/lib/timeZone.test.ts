import { afterEach, describe, expect, it } from "vitest";
import { formatListDate } from "./formatDate";
import { currentTimeZone, isoToZonedInput, setTimeZone, zonedInputToIso, zonedParts } from "./timeZone";

afterEach(() => setTimeZone(null));

describe("the time zone of Settings", () => {
  it("reads a picked wall time in the chosen zone, not the browser's", () => {
    setTimeZone("Asia/Seoul");
    expect(zonedInputToIso("2026-12-05T09:00")).toBe("2026-12-05T00:00:00.000Z");
    setTimeZone("America/New_York");
    expect(zonedInputToIso("2026-12-05T09:00")).toBe("2026-12-05T14:00:00.000Z");
    expect(zonedInputToIso("2026-07-05T09:00")).toBe("2026-07-05T13:00:00.000Z");
  });

  it("round-trips through the picker's value", () => {
    setTimeZone("Europe/Berlin");
    for (const iso of ["2026-03-29T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-12-31T23:59:00.000Z"]) {
      expect(zonedInputToIso(isoToZonedInput(iso))).toBe(iso);
    }
  });

  it("takes a skipped hour as the instant after the gap and a repeated one as the earlier", () => {
    setTimeZone("America/New_York");
    // 2026-03-08 02:30 does not exist in New York (clocks go 02:00 → 03:00 EDT).
    expect(zonedInputToIso("2026-03-08T02:30")).toBe("2026-03-08T07:30:00.000Z");
    // 2026-11-01 01:30 happens twice (EDT, then EST): the first one.
    expect(zonedInputToIso("2026-11-01T01:30")).toBe("2026-11-01T05:30:00.000Z");
  });

  it("refuses what is not a time and ignores an unknown zone", () => {
    expect(zonedInputToIso("tomorrow")).toBeNull();
    setTimeZone("Mars/Olympus_Mons");
    expect(currentTimeZone()).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  });

  it("dates the list in the chosen zone", () => {
    const now = new Date("2026-12-04T20:00:00Z");
    setTimeZone("Asia/Seoul"); // 05:00 on Dec 5 there
    expect(zonedParts(now)).toMatchObject({ year: 2026, month: 12, day: 5, hour: 5, weekday: 6 });
    expect(formatListDate("2026-12-04T16:00:00Z", "ko", now)).toBe("오전 1:00");
    expect(formatListDate("2026-12-04T14:00:00Z", "ko", now)).toBe("12.04 (금)");
    setTimeZone("UTC");
    expect(formatListDate("2026-12-04T16:00:00Z", "en", now)).toBe("4:00 PM");
  });
});
