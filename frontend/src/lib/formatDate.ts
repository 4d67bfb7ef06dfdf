// Dates in the list (arrival, Naver's formats) and the reader (the sender's Date:).

// The list shows when a message ARRIVED (it is sorted by arrival), in Naver Mail's formats:
//   today        오후 3:39        3:39 PM
//   this year    12.03 (수)       Dec 3 (Wed)
//   older        2024.12.03       Dec 3, 2024
// Built by hand rather than with Intl: these exact shapes are what Naver users read, and
// the list formats a date for every row it paints while scrolling.
import { inZone, zonedParts, type ZonedParts } from "./timeZone";

const KO_DAYS = ["일", "월", "화", "수", "목", "금", "토"];
const EN_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const pad = (n: number): string => String(n).padStart(2, "0");

function time(p: ZonedParts, korean: boolean): string {
  const h = p.hour;
  const h12 = h % 12 === 0 ? 12 : h % 12;
  const m = pad(p.minute);
  return korean ? `${h < 12 ? "오전" : "오후"} ${h12}:${m}` : `${h12}:${m} ${h < 12 ? "AM" : "PM"}`;
}

/** In the time zone of Settings (lib/timeZone), the browser's when none is chosen. */
export function formatListDate(iso: string, locale: string, now: Date = new Date()): string {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const korean = locale.toLowerCase().startsWith("ko");
  const date = zonedParts(when);
  const today = zonedParts(now);
  const sameYear = date.year === today.year;
  if (sameYear && date.month === today.month && date.day === today.day) {
    return time(date, korean);
  }
  const day = date.weekday;
  if (sameYear) {
    return korean
      ? `${pad(date.month)}.${pad(date.day)} (${KO_DAYS[day]})`
      : `${EN_MONTHS[date.month - 1]} ${date.day} (${EN_DAYS[day]})`;
  }
  return korean
    ? `${date.year}.${pad(date.month)}.${pad(date.day)}`
    : `${EN_MONTHS[date.month - 1]} ${date.day}, ${date.year}`;
}

export function formatFullDate(iso: string, locale: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(locale, inZone({ dateStyle: "medium", timeStyle: "short" })).format(date);
}
