// Dates in the list (arrival, Naver's formats) and the reader (the sender's Date:).

// The list shows when a message ARRIVED (it is sorted by arrival), in Naver Mail's formats:
//   today        오후 3:39        3:39 PM
//   this year    12.03 (수)       Dec 3 (Wed)
//   older        2024.12.03       Dec 3, 2024
// Built by hand rather than with Intl: these exact shapes are what Naver users read, and
// the list formats a date for every row it paints while scrolling.
const KO_DAYS = ["일", "월", "화", "수", "목", "금", "토"];
const EN_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const pad = (n: number): string => String(n).padStart(2, "0");

function time(date: Date, korean: boolean): string {
  const h = date.getHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  const m = pad(date.getMinutes());
  return korean ? `${h < 12 ? "오전" : "오후"} ${h12}:${m}` : `${h12}:${m} ${h < 12 ? "AM" : "PM"}`;
}

export function formatListDate(iso: string, locale: string, now: Date = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const korean = locale.toLowerCase().startsWith("ko");
  const sameYear = date.getFullYear() === now.getFullYear();
  if (sameYear && date.getMonth() === now.getMonth() && date.getDate() === now.getDate()) {
    return time(date, korean);
  }
  const day = date.getDay();
  if (sameYear) {
    return korean
      ? `${pad(date.getMonth() + 1)}.${pad(date.getDate())} (${KO_DAYS[day]})`
      : `${EN_MONTHS[date.getMonth()]} ${date.getDate()} (${EN_DAYS[day]})`;
  }
  return korean
    ? `${date.getFullYear()}.${pad(date.getMonth() + 1)}.${pad(date.getDate())}`
    : `${EN_MONTHS[date.getMonth()]} ${date.getDate()}, ${date.getFullYear()}`;
}

export function formatFullDate(iso: string, locale: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
}
