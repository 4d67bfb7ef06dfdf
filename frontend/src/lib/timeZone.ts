// The time zone the webmail shows times in: the one chosen in Settings (an IANA name such as
// "Asia/Seoul"), or the browser's when none is chosen. Naver's 환경설정 has the same choice
// for people who read their mail from abroad. Module state rather than a React context: dates
// are formatted in many leaf components and list rows, which read it when they paint, and the
// shell sets it once the settings have arrived (and again after the Settings screen).

let chosen: string | null = null;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The browser's own zone ("UTC" if it does not say). */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** "" or an unknown name (a zone this browser's ICU lacks) = follow the browser. */
export function setTimeZone(zone: string | null | undefined): void {
  chosen = zone && isKnownTimeZone(zone) ? zone : null;
}

export function currentTimeZone(): string {
  return chosen ?? browserTimeZone();
}

/** Every zone this browser knows, for the Settings list (the current one included). */
export function timeZoneNames(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const names = intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  const here = browserTimeZone();
  return names.includes(here) ? names : [here, ...names];
}

export interface ZonedParts {
  year: number;
  month: number; // 1–12
  day: number;
  hour: number; // 0–23
  minute: number;
  weekday: number; // 0 = Sunday
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

function partsFormatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      weekday: "short",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall-clock fields of `date` in `zone` (default: the current zone). */
export function zonedParts(date: Date, zone: string = currentTimeZone()): ZonedParts {
  const out: Record<string, string> = {};
  for (const p of partsFormatter(zone).formatToParts(date)) out[p.type] = p.value;
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour) % 24,
    minute: Number(out.minute),
    weekday: Math.max(0, WEEKDAYS.indexOf(out.weekday ?? "")),
  };
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** The value of a datetime-local input showing `iso` as wall time in the zone. */
export function isoToZonedInput(iso: string, zone: string = currentTimeZone()): string {
  const p = zonedParts(new Date(iso), zone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** A datetime-local value read as wall time in the zone, as an ISO instant; null when it is
 * not a time. A wall time that does not exist (the hour skipped when summer time starts) is
 * taken as the instant after the gap; one that exists twice, as the earlier one. */
export function zonedInputToIso(value: string, zone: string = currentTimeZone()): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const n = m.slice(1).map((x) => Number(x ?? 0));
  const wall = Date.UTC(n[0] ?? 0, (n[1] ?? 1) - 1, n[2] ?? 1, n[3] ?? 0, n[4] ?? 0, n[5] ?? 0);
  if (Number.isNaN(wall)) return null;
  // The zone's offsets a few hours either side of the wall time give every instant that
  // could show it (offsets change at most once in any such window in real zones).
  const offsetAt = (t: number): number => {
    const p = zonedParts(new Date(t), zone);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute) - Math.floor(t / 60000) * 60000;
  };
  const candidates = [...new Set([-6, 0, 6].map((h) => wall - offsetAt(wall + h * 3600_000)))].sort((a, b) => a - b);
  const wanted = value.slice(0, 16);
  const exact = candidates.find((t) => isoToZonedInput(new Date(t).toISOString(), zone) === wanted);
  // None shows it: the hour skipped when summer time starts; the offset before the gap
  // lands after it.
  const instant = exact ?? candidates[candidates.length - 1] ?? wall;
  return new Date(instant).toISOString();
}

/** `Intl.DateTimeFormat` options with the current zone added. */
export function inZone(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormatOptions {
  return { ...options, timeZone: currentTimeZone() };
}
