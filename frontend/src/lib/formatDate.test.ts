import { describe, expect, it } from "vitest";
import { formatListDate } from "./formatDate";

// Local times: the list shows the reader's clock.
const NOW = new Date(2026, 11, 4, 18, 0); // Fri 4 Dec 2026, 18:00
const at = (...args: [number, number, number, number, number]) => new Date(...args).toISOString();

describe("formatListDate (Naver's list formats)", () => {
  it("shows today's mail as a time with 오전/오후", () => {
    expect(formatListDate(at(2026, 11, 4, 15, 39), "ko", NOW)).toBe("오후 3:39");
    expect(formatListDate(at(2026, 11, 4, 9, 5), "ko", NOW)).toBe("오전 9:05");
    expect(formatListDate(at(2026, 11, 4, 0, 7), "ko-KR", NOW)).toBe("오전 12:07");
    expect(formatListDate(at(2026, 11, 4, 15, 39), "en", NOW)).toBe("3:39 PM");
  });
  it("shows this year's mail as month.day (weekday)", () => {
    expect(formatListDate(at(2026, 11, 3, 10, 0), "ko", NOW)).toBe("12.03 (목)");
    expect(formatListDate(at(2026, 0, 7, 10, 0), "ko", NOW)).toBe("01.07 (수)");
    expect(formatListDate(at(2026, 11, 3, 10, 0), "en", NOW)).toBe("Dec 3 (Thu)");
  });
  it("shows older mail with the year", () => {
    expect(formatListDate(at(2024, 11, 3, 10, 0), "ko", NOW)).toBe("2024.12.03");
    expect(formatListDate(at(2024, 11, 3, 10, 0), "en", NOW)).toBe("Dec 3, 2024");
  });
  it("is empty for a date it cannot read", () => {
    expect(formatListDate("not a date", "ko", NOW)).toBe("");
  });
});
