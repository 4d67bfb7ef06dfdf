// When the reading pane loads remote images and when it offers to: pure rules, tested alone.
import type { RemoteImagePolicy } from "../settings/settingsApi";

export interface RemoteImageState {
  /** Remote images the server left out of the body. */
  blocked: number;
  /** The user's policy is "always" or the sender is trusted (from the detail JSON). */
  allowed: boolean;
  /** The user clicked "Show images" for this message. */
  shownOnce: boolean;
  /** The user's policy; null while unknown (treated as "ask"). */
  policy: RemoteImagePolicy | null;
}

/** Whether the body is requested with ?images=1. */
export function loadRemoteImages(s: RemoteImageState): boolean {
  return s.allowed || s.shownOnce;
}

/** Whether the "Images are hidden" bar shows: something was blocked and nothing allowed it
 * yet. Under "never" it still shows, as the server lets one message's images load on request. */
export function showImageBar(s: RemoteImageState): boolean {
  return s.blocked > 0 && !loadRemoteImages(s);
}

/** Whether the bar offers "Always show from <sender>": trusted senders count only under "ask"
 * ("never" ignores the list, "always" needs none). */
export function offerTrustSender(s: RemoteImageState): boolean {
  return s.policy !== "never" && s.policy !== "always";
}
