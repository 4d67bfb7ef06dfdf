import { act, configure, fireEvent, screen, waitFor } from "@testing-library/react";
import type { ReactElement } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { detail, folder } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { NavigateContext } from "../../lib/useRoute";
import { json, noContent, stubApi } from "../settings/apiStub";
import { resetSettingsCache } from "../settings/settingsApi";
import { MessageView } from "./MessageView";
import type { ReadableMessage } from "./readingApi";

const FOLDERS = {
  results: [
    folder({ id: 1, name: "INBOX", special_use: "inbox" }),
    folder({ id: 2, name: "Junk", special_use: "junk" }),
    folder({ id: 3, name: "Projects", special_use: "" }),
    folder({ id: 4, name: "Drafts", special_use: "drafts" }),
  ],
};

function settings(remote_images = "ask") {
  return {
    display_name: "",
    signature_html: "",
    signature_text: "",
    language: "",
    page_size: 50,
    remote_images,
    address: "me@example.com",
  };
}

function message(overrides: Partial<ReadableMessage> = {}): ReadableMessage {
  return detail(overrides);
}

function withNavigate(ui: ReactElement, navigate = vi.fn()) {
  return <NavigateContext.Provider value={navigate}>{ui}</NavigateContext.Provider>;
}

// Two CPUs shared by several test runs: give slow renders more than the default second.
configure({ asyncUtilTimeout: 5000 });

beforeEach(() => resetSettingsCache());
afterEach(() => vi.unstubAllGlobals());

describe("MessageView body", () => {
  it("loads the server's body document in a frame without script or same-origin rights", async () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    renderIn("en", withNavigate(<MessageView message={message({ html: "<p class=x>Hi</p>" })} onBack={vi.fn()} />));
    const frame = screen.getByTestId("message-body-frame");
    expect(frame.tagName).toBe("IFRAME");
    expect(frame.getAttribute("src")).toBe("/api/v1/messages/1/body");
    const tokens = (frame.getAttribute("sandbox") ?? "").split(/\s+/).sort();
    expect(tokens).toEqual(["allow-popups", "allow-popups-to-escape-sandbox"]);
    expect(frame.getAttribute("referrerpolicy")).toBe("no-referrer");
    expect(frame.hasAttribute("srcdoc")).toBe(false);
    expect(frame.getAttribute("title")).toBe("Message body");
    // The mail's markup never enters the app's own document.
    expect(document.querySelector("p.x")).toBeNull();
  });

  it("asks before remote images, then reloads the body with ?images=1", async () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    renderIn("en", withNavigate(<MessageView message={message({ remote_images_blocked: 3 })} onBack={vi.fn()} />));
    expect(await screen.findByTestId("image-bar")).toBeTruthy();
    expect(screen.getByText("Images are hidden (3) to protect your privacy.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Show images" }));
    expect(screen.getByTestId("message-body-frame").getAttribute("src")).toBe("/api/v1/messages/1/body?images=1");
    expect(screen.queryByTestId("image-bar")).toBeNull();
  });

  it("'Always show from' trusts the sender on the server, then shows the images", async () => {
    const { calls } = stubApi({
      "GET /api/v1/settings": () => json(settings()),
      "GET /api/v1/folders": () => json(FOLDERS),
      "POST /api/v1/image-senders": () => json({ id: 9, address: "bob@example.com" }, 201),
    });
    renderIn("en", withNavigate(<MessageView message={message({ remote_images_blocked: 1 })} onBack={vi.fn()} />));
    fireEvent.click(await screen.findByRole("button", { name: "Always show from bob@example.com" }));
    await waitFor(() =>
      expect(screen.getByTestId("message-body-frame").getAttribute("src")).toBe("/api/v1/messages/1/body?images=1"),
    );
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ address: "bob@example.com" });
  });

  it("keeps the bar and says why when trusting the sender fails", async () => {
    stubApi({
      "GET /api/v1/settings": () => json(settings()),
      "GET /api/v1/folders": () => json(FOLDERS),
      "POST /api/v1/image-senders": () => json({ error: "invalid", detail: "too many senders" }, 400),
    });
    renderIn("en", withNavigate(<MessageView message={message({ remote_images_blocked: 1 })} onBack={vi.fn()} />));
    fireEvent.click(await screen.findByTestId("always-show-images"));
    expect((await screen.findByRole("alert")).textContent).toContain("too many senders");
    expect(screen.getByTestId("message-body-frame").getAttribute("src")).toBe("/api/v1/messages/1/body");
  });

  it("loads images at once for a trusted sender and never shows the bar", async () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    renderIn(
      "en",
      withNavigate(
        <MessageView message={message({ remote_images_blocked: 2, remote_images_allowed: true })} onBack={vi.fn()} />,
      ),
    );
    expect(screen.getByTestId("message-body-frame").getAttribute("src")).toBe("/api/v1/messages/1/body?images=1");
    expect(screen.queryByTestId("image-bar")).toBeNull();
  });

  it("under the 'never' policy offers this message's images but not the sender", async () => {
    stubApi({ "GET /api/v1/settings": () => json(settings("never")), "GET /api/v1/folders": () => json(FOLDERS) });
    renderIn("en", withNavigate(<MessageView message={message({ remote_images_blocked: 2 })} onBack={vi.fn()} />));
    // Until the policy is known "ask" is assumed; the sender offer goes once "never" arrives.
    expect(screen.getByTestId("always-show-images")).toBeTruthy();
    await waitFor(() => expect(screen.queryByTestId("always-show-images")).toBeNull());
    fireEvent.click(screen.getByRole("button", { name: "Show images" }));
    expect(screen.getByTestId("message-body-frame").getAttribute("src")).toBe("/api/v1/messages/1/body?images=1");
  });
});

describe("MessageView headers", () => {
  it("shows names, the subject as text, and the full address in the title", () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    renderIn(
      "ko",
      withNavigate(
        <MessageView
          message={message({
            subject: "<b>제목</b>\u202E",
            from: { name: "김철수", address: "cs@example.kr" },
            cc: [{ name: "", address: "cc@example.kr" }],
          })}
          onBack={vi.fn()}
        />,
      ),
    );
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("<b>제목</b>");
    expect(screen.getByText("보낸 사람")).toBeTruthy();
    expect(screen.getByTitle("cs@example.kr").textContent).toContain("김철수");
    expect(screen.getByText("참조")).toBeTruthy();
    expect(screen.getByTitle("cc@example.kr").textContent).toBe("cc@example.kr");
  });

  it("flags a display name that carries another address and shows the real one", () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    renderIn(
      "en",
      withNavigate(
        <MessageView
          message={message({ from: { name: "security@bank.example", address: "evil@x.example" } })}
          onBack={vi.fn()}
        />,
      ),
    );
    const warning = screen.getByTestId("name-warning");
    expect(warning.getAttribute("aria-label")).toBe("Name contains an address: check the real address");
    expect(screen.getByTitle("evil@x.example").textContent).toBe("security@bank.example <evil@x.example>");
  });

  it("opens a popover with the full address and copies it", async () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    renderIn("en", withNavigate(<MessageView message={message()} onBack={vi.fn()} />));
    fireEvent.click(screen.getByTitle("bob@example.com"));
    const popover = screen.getByTestId("address-popover");
    expect(popover.textContent).toContain("bob@example.com");
    fireEvent.click(screen.getByRole("button", { name: "Copy address" }));
    expect(await screen.findByText("Copied.")).toBeTruthy();
    expect(writeText).toHaveBeenCalledWith("bob@example.com");
    // Escape closes the popover only: the shell's Escape (close the message) never sees it.
    const shell = vi.fn();
    document.addEventListener("keydown", shell);
    fireEvent.keyDown(document, { key: "Escape" });
    document.removeEventListener("keydown", shell);
    expect(screen.queryByTestId("address-popover")).toBeNull();
    expect(shell).not.toHaveBeenCalled();
  });
});

describe("MessageView actions", () => {
  it("answers through the compose routes", () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    const navigate = vi.fn();
    renderIn("en", withNavigate(<MessageView message={message({ id: 7 })} onBack={vi.fn()} />, navigate));
    fireEvent.click(screen.getByRole("button", { name: "Reply" }));
    fireEvent.click(screen.getByRole("button", { name: "Reply all" }));
    fireEvent.click(screen.getByRole("button", { name: "Forward" }));
    expect(navigate.mock.calls.map((c) => c[0])).toEqual([
      { kind: "compose", params: { mode: "reply", id: 7, to: "" } },
      { kind: "compose", params: { mode: "replyall", id: 7, to: "" } },
      { kind: "compose", params: { mode: "forward", id: 7, to: "" } },
    ]);
  });

  it("stars and unstars on the server and reports the change", async () => {
    const { calls } = stubApi({
      "GET /api/v1/settings": () => json(settings()),
      "GET /api/v1/folders": () => json(FOLDERS),
      "PATCH /api/v1/messages/1": () => json({}),
    });
    const onFlagsChanged = vi.fn();
    renderIn("en", withNavigate(<MessageView message={message()} onBack={vi.fn()} onFlagsChanged={onFlagsChanged} />));
    const star = screen.getByRole("button", { name: "Star" });
    expect(star.getAttribute("aria-pressed")).toBe("false");
    fireEvent.click(star);
    await waitFor(() => expect(star.getAttribute("aria-pressed")).toBe("true"));
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ flagged: true });
    expect(onFlagsChanged).toHaveBeenCalledWith(1, { flagged: true });
  });

  it("deletes, then leaves the message; a failure is shown and nothing is left", async () => {
    let fail = true;
    stubApi({
      "GET /api/v1/settings": () => json(settings()),
      "GET /api/v1/folders": () => json(FOLDERS),
      "DELETE /api/v1/messages/1": () =>
        fail ? json({ error: "storage_unavailable", detail: "try again later" }, 503) : noContent(),
    });
    const onRemoved = vi.fn();
    renderIn("en", withNavigate(<MessageView message={message()} onBack={vi.fn()} onRemoved={onRemoved} />));
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect((await screen.findByRole("alert")).textContent).toContain("try again later");
    expect(onRemoved).not.toHaveBeenCalled();
    fail = false;
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(onRemoved).toHaveBeenCalledWith(1));
  });

  it("moves to another folder (not Drafts, not the current one) and reports spam", async () => {
    const { calls } = stubApi({
      "GET /api/v1/settings": () => json(settings()),
      "GET /api/v1/folders": () => json(FOLDERS),
      "PATCH /api/v1/messages/1": () => json({}),
      "POST /api/v1/messages/spam": () => json({ moved: 1 }),
    });
    const onRemoved = vi.fn();
    renderIn("en", withNavigate(<MessageView message={message({ folder: 1 })} onBack={vi.fn()} onRemoved={onRemoved} />));
    fireEvent.click(screen.getByRole("button", { name: "Move" }));
    await screen.findByTestId("move-to-3");
    fireEvent.keyDown(document, { key: "Escape" });
    expect(screen.queryByTestId("move-to-3")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Move" }));
    expect(screen.queryByTestId("move-to-1")).toBeNull();
    expect(screen.queryByTestId("move-to-4")).toBeNull();
    fireEvent.click(screen.getByTestId("move-to-3"));
    await waitFor(() => expect(onRemoved).toHaveBeenCalledTimes(1));
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ folder: 3 });
    fireEvent.click(screen.getByRole("button", { name: "Spam" }));
    await waitFor(() => expect(onRemoved).toHaveBeenCalledTimes(2));
    expect(calls.find((c) => c.path === "/api/v1/messages/spam")?.body).toEqual({ ids: [1], spam: true });
  });

  it("offers 'Not spam' in Junk", async () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    renderIn("en", withNavigate(<MessageView message={message({ folder: 2 })} onBack={vi.fn()} />));
    expect(await screen.findByRole("button", { name: "Not spam" })).toBeTruthy();
  });

  it("opens the source as text in a new tab, and the print page (all pages) in another", () => {
    stubApi({ "GET /api/v1/settings": () => json(settings()), "GET /api/v1/folders": () => json(FOLDERS) });
    const open = vi.spyOn(window, "open").mockImplementation(() => null);
    const print = vi.spyOn(window, "print").mockImplementation(() => undefined);
    renderIn("en", withNavigate(<MessageView message={message({ id: 5 })} onBack={vi.fn()} />));
    fireEvent.click(screen.getByRole("button", { name: "View source" }));
    expect(open).toHaveBeenCalledWith("/api/v1/messages/5/raw?view=1", "_blank", "noopener,noreferrer");
    act(() => {
      fireEvent.click(screen.getByRole("button", { name: "Print" }));
    });
    // Not this page's window.print(): its frame would print one page of a long body.
    expect(print).not.toHaveBeenCalled();
    const [url, target] = open.mock.calls[1] ?? [];
    expect(String(url)).toMatch(/^\/api\/v1\/messages\/5\/print\?lang=en&tz=[^&]+$/);
    expect(target).toBe("_blank");
  });
});
