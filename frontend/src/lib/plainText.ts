// Untrusted one-line text (subjects, names, folder names, filenames) made safe to display:
// bidi embedding/override/isolate marks and control characters removed (Trojan Source /
// "invoice\u202Efdp.exe"), line breaks folded to spaces. Render the result as text, inside
// <bdi> where a right-to-left name could reorder its neighbours.
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

export function singleLine(text: string): string {
  return text.replace(UNSAFE, "").replace(/[\t\r\n]+/g, " ");
}
