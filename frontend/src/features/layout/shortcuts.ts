// Gmail's keyboard shortcuts, as a pure key → command table. Nothing fires while the user
// types (inputs, selects, editors) or with Ctrl/Alt/Meta held, so browser and editor keys
// keep working.

export type ShortcutCommand =
  | "compose"
  | "reply"
  | "replyAll"
  | "forward"
  | "next"
  | "previous"
  | "open"
  | "select"
  | "delete"
  | "star"
  | "search"
  | "help"
  | "back"
  | "escape";

/** In the order the help dialog lists them, with the key shown to the user. */
export const SHORTCUTS: readonly { key: string; command: ShortcutCommand }[] = [
  { key: "c", command: "compose" },
  { key: "r", command: "reply" },
  { key: "a", command: "replyAll" },
  { key: "f", command: "forward" },
  { key: "j", command: "next" },
  { key: "k", command: "previous" },
  { key: "o", command: "open" },
  { key: "x", command: "select" },
  { key: "#", command: "delete" },
  { key: "s", command: "star" },
  { key: "/", command: "search" },
  { key: "u", command: "back" },
  { key: "?", command: "help" },
  { key: "Esc", command: "escape" },
];

const BY_KEY = new Map<string, ShortcutCommand>([
  ...SHORTCUTS.filter((s) => s.key !== "Esc").map((s) => [s.key, s.command] as const),
  ["Enter", "open"],
  ["Escape", "escape"],
  ["Delete", "delete"],
]);

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
  isComposing?: boolean;
  target: EventTarget | null;
}

/** True when the key belongs to something the user is typing into. */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (typeof Element === "undefined" || !(target instanceof Element)) return false;
  if (target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"], [role="textbox"]')) {
    return true;
  }
  return false;
}

export function shortcutFor(e: KeyLike): ShortcutCommand | null {
  if (e.ctrlKey || e.altKey || e.metaKey || e.isComposing) return null;
  // Escape still closes things from inside a field (the search box, a dialog's input).
  if (e.key === "Escape") return "escape";
  if (isTypingTarget(e.target)) return null;
  // Enter on a focused button or link is that control's own; only on the page it opens.
  if (e.key === "Enter" && e.target instanceof Element && e.target.closest("button, a, [role=row]")) return null;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  // Shifted letters are not shortcuts (Shift+C is not c); '#' and '?' need Shift on most layouts.
  if (e.key.length === 1 && e.key !== key) return null;
  return BY_KEY.get(key) ?? null;
}
