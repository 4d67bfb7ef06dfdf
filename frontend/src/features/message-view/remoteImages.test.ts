import { describe, expect, it } from "vitest";
import { loadRemoteImages, offerTrustSender, showImageBar, type RemoteImageState } from "./remoteImages";

const base: RemoteImageState = { blocked: 2, allowed: false, shownOnce: false, policy: "ask" };

describe("remote images", () => {
  it("asks when something was blocked and nothing allows it", () => {
    expect(showImageBar(base)).toBe(true);
    expect(loadRemoteImages(base)).toBe(false);
    expect(showImageBar({ ...base, policy: null })).toBe(true);
  });

  it("does not ask when nothing was blocked", () => {
    expect(showImageBar({ ...base, blocked: 0 })).toBe(false);
  });

  it("loads them for a trusted sender or an 'always' policy (allowed) and after 'Show images'", () => {
    for (const s of [{ ...base, allowed: true }, { ...base, shownOnce: true }]) {
      expect(loadRemoteImages(s)).toBe(true);
      expect(showImageBar(s)).toBe(false);
    }
  });

  it("under 'never' loads nothing by itself, still offers this message's, but not the sender", () => {
    const never = { ...base, policy: "never" as const };
    expect(loadRemoteImages(never)).toBe(false);
    expect(showImageBar(never)).toBe(true);
    expect(offerTrustSender(never)).toBe(false);
    expect(offerTrustSender(base)).toBe(true);
    expect(offerTrustSender({ ...base, policy: null })).toBe(true);
  });
});
