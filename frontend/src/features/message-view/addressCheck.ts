// Display-name spoofing checks for the header lines (security.md A4): a name that carries an
// address ("security@bank.example" <evil@x.example>) or a domain other than the sender's.
// Pure functions; the UI shows the real address next to any name these flag.
import { singleLine } from "../../lib/plainText";

export type NameWarning = "address" | "domain" | null;

// NFKC folds the full-width ＠ (U+FF20) and the small ﹫ (U+FE6B) into "@", and full-width
// letters into ASCII, so look-alike forms are caught too.
function fold(text: string): string {
  return singleLine(text).normalize("NFKC").toLowerCase();
}

const DOMAIN_LIKE = /(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?![a-z0-9-])/g;

/** Why a display name should not be trusted next to this address, or null.
 * - "address": the name contains "@" (unless it is exactly the sender's own address);
 * - "domain": the name names a domain (paypal.com) that is not the sender's or a parent of it. */
export function nameWarning(name: string, address: string): NameWarning {
  const n = fold(name).trim();
  if (!n) return null;
  const addr = fold(address).trim();
  if (n.includes("@")) {
    const bare = n.replace(/^["'<\s]+|["'>\s]+$/g, "");
    return bare === addr ? null : "address";
  }
  const senderDomain = addr.slice(addr.lastIndexOf("@") + 1);
  for (const match of n.matchAll(DOMAIN_LIKE)) {
    const domain = match[0];
    if (senderDomain !== domain && !senderDomain.endsWith(`.${domain}`)) return "domain";
  }
  return null;
}
