// Attachment sizes in B / KiB / MiB (1024-based, so named by their binary units; one decimal
// under 10).
import type { Translate } from "../i18n/translate";

export function formatSize(bytes: number, t: Translate): string {
  if (bytes < 1024) return t("size.bytes", { n: bytes });
  const kb = bytes / 1024;
  if (kb < 1024) return t("size.kb", { n: kb < 10 ? kb.toFixed(1) : Math.round(kb) });
  const mb = kb / 1024;
  return t("size.mb", { n: mb < 10 ? mb.toFixed(1) : Math.round(mb) });
}
