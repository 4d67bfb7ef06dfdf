// Small shared helpers of the outbox screens, in the time zone of Settings (lib/timeZone).
import { inZone, isoToZonedInput } from "../../lib/timeZone";

export function formatTime(iso: string, locale: string): string {
  return new Intl.DateTimeFormat(locale, inZone({ dateStyle: "medium", timeStyle: "short" })).format(new Date(iso));
}

/** The value of a datetime-local input for an ISO time, as wall time in the chosen zone. */
export function toLocalInput(iso: string): string {
  return isoToZonedInput(iso);
}
