// Quotas: the API speaks bytes (0 = unlimited), the forms speak MB (1 MB = 1024 × 1024 bytes,
// as Dovecot's quota settings and the mail apps' storage meters count them).
export const MB = 1024 * 1024;
/** 1 PB in MB: larger is a typo, not a quota. */
export const MAX_QUOTA_MB = 1024 * 1024 * 1024;

/** Bytes → MB for a form field, at most two decimals ("1.5"), "0" for unlimited. */
export function bytesToMb(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return "0";
  return String(Math.round((bytes / MB) * 100) / 100);
}

/** A form's MB text → bytes, or null when it is not a number of MB (negative, too large, junk). */
export function mbToBytes(text: string): number | null {
  const clean = text.trim().replace(",", ".");
  if (!/^\d{1,10}(\.\d{1,2})?$/.test(clean)) return null;
  const mb = Number(clean);
  if (!Number.isFinite(mb) || mb < 0 || mb > MAX_QUOTA_MB) return null;
  return Math.round(mb * MB);
}

/** How full a mailbox is, 0–100 (0 when unlimited). */
export function usagePercent(used: number, limit: number): number {
  if (limit <= 0) return 0;
  return Math.min(100, Math.max(0, Math.round((used / limit) * 100)));
}
