// The shell as a whole against a scripted API (fetch answered per path): routes, keyboard
// shortcuts, bulk actions and the document title.
import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { folder, listItem } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { MailLayout } from "./MailLayout";

const user = { address: "alice@example.com", display_name: "Alice", is_superadmin: false, admin_domains: [], addresses: ["alice@example.com"], second_factor_enrolment_required: false };
const folders = [
  folder({ id: 1, name: "INBOX", special_use: "inbox", unread: 2, total: 3 }),
  folder({ id: 2, name: "Trash", special_use: "trash", unread: 0, total: 0 }),
  folder({ id: 3, name: "Projects", special_use: "", unread: 0, total: 0 }),
];
const unseen = { seen: false, answered: false, flagged: false, deleted: false, draft: false };
const rows = [
  listItem({ id: 30, uid: 30, subject: "Third", flags: unseen }),
  listItem({ id: 20, uid: 20, subject: "Second", flags: unseen }),
  listItem({ id: 10, uid: 10, subject: "First" }),
];

let calls: { method: string; url: string; body: unknown }[] = [];

function json(body: unknown, status = 200): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

beforeEach(() => {
  calls = [];
  window.history.replaceState(null, "", "/");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      const method = init?.method ?? "GET";
      const body = init?.body ? JSON.parse(String(init.body)) : null;
      calls.push({ method, url, body });
      const path = url.split("?")[0];
      if (path === "/api/v1/folders") return json({ results: folders });
      if (path === "/api/v1/settings") return json({ language: "en", page_size: 25 });
      if (path === "/api/v1/folders/1/messages") return json({ results: rows, next_cursor: null });
      if (path === "/api/v1/folders/2/messages") return json({ results: [listItem({ id: 5, folder: 2, subject: "Old" })], next_cursor: null });
      if (path === "/api/v1/messages/search") return json({ results: [{ ...rows[0], folder_id: 1 }], next_cursor: null });
      if (path === "/api/v1/messages/flags") {
        const ids = (body as { ids: number[] }).ids;
        return json({ results: rows.filter((r) => ids.includes(r.id)).map((r) => ({ ...r, flags: { ...r.flags, flagged: true } })) });
      }
      if (path === "/api/v1/messages/delete") return json({ trashed: 1, expunged: 0 });
      return json({ error: "not_found", detail: "no such thing" }, 404);
    }),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function renderShell() {
  renderIn("en", <MailLayout user={user} onSignOut={vi.fn()} />);
  const grid = await screen.findByRole("grid", { name: "Messages" });
  await waitFor(() => expect(within(grid).getAllByRole("row")).toHaveLength(3));
  return grid;
}

function press(key: string, target: Element = document.body) {
  act(() => {
    fireEvent.keyDown(target, { key });
  });
}

describe("MailLayout", () => {
  it("opens the Inbox at / and shows its unread count in the title", async () => {
    await renderShell();
    expect(window.location.pathname).toBe("/folders/1");
    expect(document.title).toBe("(2) Inbox - Mailroom");
    // The list waits for the page size from settings: one fetch, not the default's and then 25's.
    const pages = calls.filter((c) => c.url.startsWith("/api/v1/folders/1/messages"));
    expect(pages.map((c) => new URL(c.url, "http://x").searchParams.get("limit"))).toEqual(["25"]);
  });

  it("moves the cursor with j/k, stars with s and deletes with #", async () => {
    const grid = await renderShell();
    press("j");
    expect(within(grid).getByTestId("message-30").classList.contains("active")).toBe(true);
    press("j");
    expect(within(grid).getByTestId("message-20").classList.contains("active")).toBe(true);
    press("k");
    expect(within(grid).getByTestId("message-30").classList.contains("active")).toBe(true);
    press("s");
    await waitFor(() => expect(calls.find((c) => c.url === "/api/v1/messages/flags")?.body).toEqual({ ids: [30], add: ["flagged"], remove: [] }));
    press("#");
    await waitFor(() => expect(within(grid).queryByTestId("message-30")).toBeNull());
    expect(calls.find((c) => c.url === "/api/v1/messages/delete")?.body).toEqual({ ids: [30] });
  });

  it("ignores shortcuts typed into the search box, and / focuses it", async () => {
    await renderShell();
    const box = screen.getByRole("searchbox", { name: "Search mail" });
    press("/");
    expect(document.activeElement).toBe(box);
    press("c", box);
    expect(window.location.pathname).toBe("/folders/1");
  });

  it("searches from the top bar and lists the results with their folder", async () => {
    const grid = await renderShell();
    const box = screen.getByRole("searchbox", { name: "Search mail" });
    fireEvent.change(box, { target: { value: "third" } });
    fireEvent.submit(box.closest("form") as HTMLFormElement);
    await waitFor(() => expect(window.location.pathname + window.location.search).toBe("/search?q=third"));
    await waitFor(() => expect(within(grid).getAllByRole("row")).toHaveLength(1));
    expect(within(grid).getByTestId("message-30").textContent).toContain("Inbox");
    expect(document.title).toBe("(2) Search results for “third” - Mailroom");
  });

  it("opens the help dialog with ? and closes it with Escape", async () => {
    await renderShell();
    press("?");
    const dialog = screen.getByRole("dialog", { name: "Keyboard shortcuts" });
    expect(within(dialog).getByText("Reply all")).toBeTruthy();
    // Shortcuts are off while it is open.
    press("c");
    expect(window.location.pathname).toBe("/folders/1");
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("goes to compose with c, with the lazy screen in place of the list", async () => {
    await renderShell();
    press("c");
    expect(window.location.pathname).toBe("/compose");
    expect(screen.queryByRole("grid")).toBeNull();
    expect(document.title).toBe("(2) Compose - Mailroom");
  });

  it("asks before deleting for good in Trash", async () => {
    await renderShell();
    fireEvent.click(screen.getByRole("link", { name: "Trash" }));
    expect(window.location.pathname).toBe("/folders/2");
    const row = await screen.findByTestId("message-5");
    fireEvent.click(within(row).getByRole("checkbox"));
    fireEvent.click(screen.getByRole("button", { name: "Delete forever" }));
    const dialog = screen.getByRole("alertdialog");
    expect(dialog.textContent).toContain("Delete 1 message(s) for good?");
    expect(calls.some((c) => c.url === "/api/v1/messages/delete")).toBe(false);
    fireEvent.click(within(dialog).getByRole("button", { name: "Delete forever" }));
    await waitFor(() => expect(screen.queryByTestId("message-5")).toBeNull());
    expect(calls.find((c) => c.url === "/api/v1/messages/delete")?.body).toEqual({ ids: [5] });
  });
});
