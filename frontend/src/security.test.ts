// Guards over the source tree: mail content must never reach the app's DOM as HTML, and the
// body iframe must never gain script or same-origin rights.
import { describe, expect, it } from "vitest";

const sources = import.meta.glob<string>(["./**/*.{ts,tsx}", "!./**/*.test.{ts,tsx}"], {
  query: "?raw",
  import: "default",
  eager: true,
});

describe("source tree", () => {
  it("is found", () => {
    expect(Object.keys(sources).length).toBeGreaterThan(10);
  });

  it.each(["dangerouslySetInnerHTML", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("])(
    "never uses %s",
    (needle) => {
      const offenders = Object.entries(sources).filter(([, text]) => text.includes(needle));
      expect(offenders.map(([path]) => path)).toEqual([]);
    },
  );

  it("never grants allow-scripts or allow-same-origin to a frame", () => {
    const offenders = Object.entries(sources).filter(([, text]) =>
      /allow-scripts|allow-same-origin/.test(text.replace(/\/\/.*$/gm, "")),
    );
    expect(offenders.map(([path]) => path)).toEqual([]);
  });
});
