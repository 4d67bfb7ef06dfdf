import { describe, expect, it } from "vitest";
import { parseRoute, routePath } from "./route";

describe("route", () => {
  it.each([
    ["/", { folderId: null, messageId: null }],
    ["/folders/3", { folderId: 3, messageId: null }],
    ["/folders/3/", { folderId: 3, messageId: null }],
    ["/folders/3/messages/42", { folderId: 3, messageId: 42 }],
    ["/folders/x", { folderId: null, messageId: null }],
    ["/settings", { folderId: null, messageId: null }],
  ])("parses %s", (path, route) => {
    expect(parseRoute(path)).toEqual(route);
  });

  it("round-trips", () => {
    for (const path of ["/", "/folders/7", "/folders/7/messages/9"]) {
      expect(routePath(parseRoute(path))).toBe(path);
    }
  });
});
