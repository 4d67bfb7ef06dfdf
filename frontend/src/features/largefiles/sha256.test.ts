import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Sha256 } from "./sha256";

describe("Sha256", () => {
  it("matches node's digest for any split of the input", () => {
    for (const size of [0, 1, 55, 56, 63, 64, 65, 1000, 100_000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
      const want = createHash("sha256").update(data).digest("hex");
      expect(new Sha256().update(data).hex()).toBe(want);
      const parts = new Sha256();
      for (let at = 0; at < size; at += 37) parts.update(data.subarray(at, at + 37));
      expect(parts.hex()).toBe(want);
    }
  });
});
