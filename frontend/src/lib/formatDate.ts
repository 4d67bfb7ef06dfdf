// Dates in the list and the reader: the time for today's mail, the date otherwise.

// Building an Intl.DateTimeFormat costs far more than using one, and the list formats a date
// for every row it paints while scrolling: keep one per locale and style.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(locale: string, style: "time" | "date"): Intl.DateTimeFormat {
  const key = `${locale}|${style}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(
      locale,
      style === "time" ? { hour: "2-digit", minute: "2-digit" } : { year: "2-digit", month: "2-digit", day: "2-digit" },
    );
    formatters.set(key, f);
  }
  return f;
}

export function formatListDate(iso: string, locale: string, now: Date = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay =
    date.getFullYear() === now.getFullYear() &&
    date.getMonth() === now.getMonth() &&
    date.getDate() === now.getDate();
  return formatter(locale, sameDay ? "time" : "date").format(date);
}

export function formatFullDate(iso: string, locale: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
}
