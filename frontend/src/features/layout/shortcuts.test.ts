import { describe, expect, it } from "vitest";
import { SHORTCUTS, isTypingTarget, shortcutFor, type KeyLike } from "./shortcuts";

function key(k: string, target: EventTarget | null = document.body, mods: Partial<KeyLike> = {}): KeyLike {
  return { key: k, ctrlKey: false, altKey: false, metaKey: false, target, ...mods };
}

describe("shortcutFor", () => {
  it.each([
    ["c", "compose"],
    ["r", "reply"],
    ["a", "replyAll"],
    ["f", "forward"],
    ["j", "next"],
    ["k", "previous"],
    ["#", "delete"],
    ["s", "star"],
    ["/", "search"],
    ["?", "help"],
    ["u", "back"],
    ["x", "select"],
    ["Escape", "escape"],
  ])("maps %s to %s on the page", (k, command) => {
    expect(shortcutFor(key(k))).toBe(command);
  });

  it("ignores keys typed into fields and editors", () => {
    const input = document.createElement("input");
    const area = document.createElement("textarea");
    const editor = document.createElement("div");
    editor.setAttribute("contenteditable", "true");
    const inner = document.createElement("p");
    editor.appendChild(inner);
    for (const target of [input, area, inner]) {
      expect(shortcutFor(key("c", target))).toBeNull();
      expect(shortcutFor(key("#", target))).toBeNull();
    }
    expect(isTypingTarget(inner)).toBe(true);
    // …but Escape still closes.
    expect(shortcutFor(key("Escape", input))).toBe("escape");
  });

  it("leaves browser and system combinations alone", () => {
    expect(shortcutFor(key("c", document.body, { ctrlKey: true }))).toBeNull();
    expect(shortcutFor(key("r", document.body, { metaKey: true }))).toBeNull();
    expect(shortcutFor(key("f", document.body, { altKey: true }))).toBeNull();
    expect(shortcutFor(key("k", document.body, { isComposing: true }))).toBeNull();
  });

  it("does not treat Shift+letter as the letter, nor unknown keys as anything", () => {
    expect(shortcutFor(key("C"))).toBeNull();
    expect(shortcutFor(key("z"))).toBeNull();
    expect(shortcutFor(key("F5"))).toBeNull();
  });

  it("lets Enter on a button do the button's job", () => {
    const button = document.createElement("button");
    expect(shortcutFor(key("Enter", button))).toBeNull();
    expect(shortcutFor(key("Enter"))).toBe("open");
  });

  it("lists every command once in the help table", () => {
    const commands = SHORTCUTS.map((s) => s.command);
    expect(new Set(commands).size).toBe(commands.length);
  });
});
