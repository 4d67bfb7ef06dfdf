// The HTML signature made from the text one: escaped, line breaks as <br>. The server
// sanitizes whatever it is given anyway; this only keeps the two versions in step.
const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function signatureHtml(text: string): string {
  const normalized = text.replace(/\r\n?/g, "\n").replace(/\s+$/, "");
  if (!normalized) return "";
  return normalized.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c).replace(/\n/g, "<br>");
}

// The server's limits (webmail/api/account_serializers.py); both signature versions count.
export const MAX_SIGNATURE_CHARS = 10_000;
export const MAX_DISPLAY_NAME_CHARS = 200;
