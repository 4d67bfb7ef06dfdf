import { describe, expect, it } from "vitest";
import { parseRoute, routeHref, withMessage, type Route } from "./route";

const inbox: Route = { kind: "mail", folderId: null, messageId: null };

describe("parseRoute", () => {
  it.each<[string, string, Route]>([
    ["/", "", inbox],
    ["/folders/3", "", { kind: "mail", folderId: 3, messageId: null }],
    ["/folders/3/", "", { kind: "mail", folderId: 3, messageId: null }],
    ["/folders/3/messages/42", "", { kind: "mail", folderId: 3, messageId: 42 }],
    ["/folders/x", "", inbox],
    ["/folders/0", "", { kind: "mail", folderId: null, messageId: null }],
    ["/nowhere", "", inbox],
    ["/search", "?q=hello%20world", { kind: "search", q: "hello world", folderId: null, messageId: null }],
    ["/search", "?q=a&folder=5", { kind: "search", q: "a", folderId: 5, messageId: null }],
    ["/search", "?q=a&folder=junk", { kind: "search", q: "a", folderId: null, messageId: null }],
    ["/search/messages/9", "?q=%ED%95%9C", { kind: "search", q: "한", folderId: null, messageId: 9 }],
    ["/compose", "", { kind: "compose", params: { mode: "new", id: null, to: "" } }],
    ["/compose", "?to=bob%40example.com", { kind: "compose", params: { mode: "new", id: null, to: "bob@example.com" } }],
    ["/compose", "?draft=4", { kind: "compose", params: { mode: "draft", id: 4, to: "" } }],
    ["/compose", "?reply=7", { kind: "compose", params: { mode: "reply", id: 7, to: "" } }],
    ["/compose", "?replyall=7", { kind: "compose", params: { mode: "replyall", id: 7, to: "" } }],
    ["/compose", "?forward=8", { kind: "compose", params: { mode: "forward", id: 8, to: "" } }],
    ["/compose", "?reply=abc", { kind: "compose", params: { mode: "new", id: null, to: "" } }],
    ["/settings", "", { kind: "settings", section: null }],
    ["/settings/password", "", { kind: "settings", section: "password" }],
    ["/contacts", "", { kind: "contacts" }],
    ["/admin", "", { kind: "admin", path: "" }],
    ["/admin/domains/3/", "", { kind: "admin", path: "domains/3" }],
  ])("parses %s%s", (path, search, route) => {
    expect(parseRoute(path, search)).toEqual(route);
  });

  it("caps an overlong search query", () => {
    const route = parseRoute("/search", `?q=${"x".repeat(500)}`);
    expect(route.kind === "search" && route.q.length).toBe(200);
  });
});

describe("routeHref", () => {
  it("round-trips every kind", () => {
    for (const href of [
      "/",
      "/folders/7",
      "/folders/7/messages/9",
      "/search?q=a+b",
      "/search?q=x&folder=3",
      "/search/messages/5?q=x",
      "/compose",
      "/compose?to=a%40b.c",
      "/compose?draft=2",
      "/compose?replyall=3",
      "/settings",
      "/contacts",
      "/settings/signature",
      "/admin",
      "/admin/domains/1",
    ]) {
      const [path, search = ""] = href.split("?");
      expect(routeHref(parseRoute(path ?? "", search))).toBe(href);
    }
  });

  it("opens and closes a message within the same list", () => {
    const search: Route = { kind: "search", q: "q", folderId: 2, messageId: null };
    expect(routeHref(withMessage(search, 11))).toBe("/search/messages/11?q=q&folder=2");
    expect(withMessage({ kind: "settings", section: null }, 3)).toEqual({ kind: "settings", section: null });
  });
});

describe("quick view routes", () => {
  it("parse and print /views/{view}[/messages/{id}]", () => {
    expect(parseRoute("/views/unread")).toEqual({ kind: "view", view: "unread", messageId: null });
    expect(parseRoute("/views/attachments/messages/42")).toEqual({ kind: "view", view: "attachments", messageId: 42 });
    expect(parseRoute("/views/bogus")).toEqual(inbox);
    expect(routeHref({ kind: "view", view: "flagged", messageId: 7 })).toBe("/views/flagged/messages/7");
    expect(withMessage({ kind: "view", view: "flagged", messageId: null }, 3)).toEqual({ kind: "view", view: "flagged", messageId: 3 });
  });
});
