import { configure, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useI18n } from "../../i18n/I18nContext";
import { renderIn } from "../../test/render";
import { json, noContent, stubApi, type StubRequest } from "./apiStub";
import { SettingsView } from "./SettingsView";
import { resetSettingsCache } from "./settingsApi";

const SETTINGS = {
  display_name: "Alice",
  signature_html: "",
  signature_text: "",
  language: "",
  page_size: 50,
  remote_images: "ask",
  list_density: "compact",
  reading_mode: "split",
  time_zone: "",
  address: "alice@example.com",
  aliases: ["sales@example.com"],
};

const LOGIN_NEW = {
  id: 9,
  at: "2026-12-04T11:00:00Z",
  address: "alice@example.com",
  ip: "198.51.100.4",
  door: "imap",
  method: "app_password",
  result: "ok",
  client: "Thunderbird 128.5",
};
const LOGIN_OLD = { ...LOGIN_NEW, id: 3, door: "web", method: "", result: "failed", client: "Mozilla/5.0" };

function server(extra: Record<string, (req: StubRequest) => Response> = {}) {
  return stubApi({
    "GET /api/v1/settings": () => json(SETTINGS),
    "PATCH /api/v1/settings": (req) => json({ ...SETTINGS, ...(req.body as object) }),
    "GET /api/v1/image-senders": () => json([{ id: 4, address: "news@shop.example" }]),
    "GET /api/v1/settings/pop3": () => json({ on_delete: "delete", only_new: false }),
    "PATCH /api/v1/settings/pop3": (req) => json({ on_delete: "delete", only_new: false, ...(req.body as object) }),
    "GET /api/v1/settings/fetch-accounts": () => json([]),
    "GET /api/v1/settings/password-policy": () =>
      json({ min_length: 8, max_length: 1024, common_list: true, breached_list_entries: 0 }),
    "GET /api/v1/settings/sessions": () =>
      json({
        sessions: [
          { id: 5, current: true, created_at: "2026-12-01T00:00:00Z", last_seen_at: "2026-12-04T10:00:00Z", ip: "203.0.113.9", user_agent: "x", browser: "Chrome on Windows" },
          { id: 6, current: false, created_at: "2026-12-02T00:00:00Z", last_seen_at: null, ip: "198.51.100.4", user_agent: "y", browser: "Safari on iOS" },
        ],
        token: null,
      }),
    "DELETE /api/v1/settings/sessions/6": () => noContent(),
    "GET /api/v1/settings/two-factor": () =>
      json({ on: false, totp: false, passkeys: [], recovery_codes_left: 0, required_by_domain: false, enrolment_required: false }),
    "GET /api/v1/settings/login-history?limit=50": () => json({ items: [LOGIN_NEW], next_cursor: "c1" }),
    "GET /api/v1/settings/login-history?cursor=c1&limit=50": () => json({ items: [LOGIN_OLD], next_cursor: null }),
    "GET /api/v1/settings/rules": () => json({ rules: [], custom: false, script: "" }),
    "GET /api/v1/settings/blocked-senders": () => json([]),
    "GET /api/v1/settings/forwarding": () => json({ enabled: false, address: "", keep_copy: true }),
    "GET /api/v1/settings/vacation": () =>
      json({ enabled: false, start: null, end: null, subject: "", body: "", days: 7, active: false }),
    "GET /api/v1/outbox/settings": () => json({ undo_seconds: 10, share_read_status: null }),
    "GET /api/v1/folders": () => json({ results: [] }),
    "GET /api/v1/app-passwords": () =>
      json([
        {
          id: 1,
          name: "Thunderbird",
          created_at: "2026-01-02T03:04:05Z",
          last_used_at: "2026-02-01T00:00:00Z",
          last_used_ip: "192.0.2.7",
        },
      ]),
    ...extra,
  });
}

// Two CPUs shared by several test runs: give slow renders more than the default second.
configure({ asyncUtilTimeout: 5000 });

beforeEach(() => {
  resetSettingsCache();
  localStorage.clear();
});
afterEach(() => vi.unstubAllGlobals());

function LocaleProbe() {
  const { locale, preference } = useI18n();
  return <output data-testid="locale">{`${locale}/${preference || "browser"}`}</output>;
}

describe("SettingsView profile", () => {
  it("saves the display name and the signature with an HTML version made from the text", async () => {
    const { calls } = server();
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    const name = await screen.findByLabelText("Display name");
    expect(screen.getByTestId("settings-aliases").textContent).toContain("also send from sales@example.com");
    expect((name as HTMLInputElement).value).toBe("Alice");
    fireEvent.change(name, { target: { value: "  Alice Kim " } });
    fireEvent.change(screen.getByLabelText("Signature"), { target: { value: "Alice <R&D>\nMailroom" } });
    fireEvent.click(screen.getByTestId("settings-profile-save"));
    expect(await screen.findByText("Saved.")).toBeTruthy();
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({
      display_name: "Alice Kim",
      signature_text: "Alice <R&D>\nMailroom",
      signature_html: "Alice &lt;R&amp;D&gt;<br>Mailroom",
    });
  });

  it("refuses a display name that is too long before asking the server", async () => {
    const { calls } = server();
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    fireEvent.change(await screen.findByLabelText("Display name"), { target: { value: "x".repeat(201) } });
    expect(screen.getByText("At most 200 characters.")).toBeTruthy();
    expect((screen.getByTestId("settings-profile-save") as HTMLButtonElement).disabled).toBe(true);
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
  });

  it("shows the server's field errors next to the field", async () => {
    server({
      "PATCH /api/v1/settings": () =>
        json({ error: "invalid", detail: "display_name: no line breaks", fields: { display_name: ["No line breaks."] } }, 400),
    });
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    await screen.findByLabelText("Display name");
    fireEvent.click(screen.getByTestId("settings-profile-save"));
    expect(await screen.findByText("No line breaks.")).toBeTruthy();
    expect(screen.getByLabelText("Display name").getAttribute("aria-invalid")).toBe("true");
  });
});

describe("SettingsView preferences", () => {
  it("switches the language at once and saves it; '' follows the browser", async () => {
    const { calls } = server();
    renderIn(
      "en",
      <>
        <SettingsView onClose={vi.fn()} />
        <LocaleProbe />
      </>,
    );
    fireEvent.change(await screen.findByLabelText("Language"), { target: { value: "ko" } });
    expect(screen.getByTestId("locale").textContent).toBe("ko/ko");
    // Every label is Korean now.
    expect(await screen.findByLabelText("보내는 사람 이름")).toBeTruthy();
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH").map((c) => c.body)).toEqual([{ language: "ko" }]));
    expect(localStorage.getItem("mailroom.locale")).toBe("ko");
    fireEvent.change(screen.getByLabelText("언어"), { target: { value: "" } });
    expect(screen.getByTestId("locale").textContent).toMatch(/\/browser$/);
    expect(localStorage.getItem("mailroom.locale")).toBeNull();
  });

  it("saves the page size and the image policy, and puts the choice back if saving fails", async () => {
    let fail = false;
    const { calls } = server({
      "PATCH /api/v1/settings": (req) =>
        fail ? json({ error: "storage_unavailable", detail: "try later" }, 503) : json({ ...SETTINGS, ...(req.body as object) }),
    });
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    const pageSize = (await screen.findByLabelText("Page size")) as HTMLSelectElement;
    fireEvent.change(pageSize, { target: { value: "100" } });
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH").map((c) => c.body)).toEqual([{ page_size: 100 }]));
    fail = true;
    const policy = screen.getByLabelText("Remote images") as HTMLSelectElement;
    fireEvent.change(policy, { target: { value: "always" } });
    expect(policy.value).toBe("always");
    expect((await screen.findByRole("alert")).textContent).toContain("try later");
    expect(policy.value).toBe("ask");
  });

  it("saves the list density and the reading mode (issue 12 item 14)", async () => {
    const { calls } = server();
    renderIn("ko", <SettingsView onClose={vi.fn()} />);
    const density = (await screen.findByLabelText("목록 간격")) as HTMLSelectElement;
    expect(density.value).toBe("compact");
    fireEvent.change(density, { target: { value: "comfortable" } });
    fireEvent.change(screen.getByLabelText("메일 읽기"), { target: { value: "list" } });
    await waitFor(() =>
      expect(calls.filter((c) => c.method === "PATCH").map((c) => c.body)).toEqual([
        { list_density: "comfortable" },
        { reading_mode: "list" },
      ]),
    );
  });

  it("lists trusted senders and removes one", async () => {
    const { calls } = server({ "DELETE /api/v1/image-senders/4": () => noContent() });
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    fireEvent.click(await screen.findByRole("button", { name: "Remove news@shop.example" }));
    await waitFor(() => expect(screen.queryByText("news@shop.example")).toBeNull());
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/image-senders/4")).toBe(true);
  });
});

describe("SettingsView password", () => {
  it("checks the form before sending it", async () => {
    const { calls } = server();
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    await screen.findByLabelText("Current password");
    fireEvent.change(screen.getByLabelText("New password"), { target: { value: "short" } });
    fireEvent.change(screen.getByLabelText("Confirm password"), { target: { value: "shorter" } });
    fireEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(screen.getByText("Enter your current password.")).toBeTruthy();
    expect(screen.getByText("Use at least 8 characters.")).toBeTruthy();
    expect(screen.getByText("The passwords do not match.")).toBeTruthy();
    expect(calls.some((c) => c.path === "/api/v1/settings/password")).toBe(false);
  });

  it("shows the server's validator errors, then succeeds and clears the form", async () => {
    let answer: Response = json(
      {
        error: "invalid",
        detail: "current_password: wrong password",
        fields: { current_password: ["Wrong password."], new_password: ["This password is too common."] },
      },
      400,
    );
    const { calls } = server({ "POST /api/v1/settings/password": () => answer });
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    fireEvent.change(await screen.findByLabelText("Current password"), { target: { value: "old-secret" } });
    fireEvent.change(screen.getByLabelText("New password"), { target: { value: "password123" } });
    fireEvent.change(screen.getByLabelText("Confirm password"), { target: { value: "password123" } });
    fireEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByText("Wrong password.")).toBeTruthy();
    expect(screen.getByText("This password is too common.")).toBeTruthy();
    expect(calls.find((c) => c.path === "/api/v1/settings/password")?.body).toEqual({
      current_password: "old-secret",
      new_password: "password123",
    });
    answer = noContent();
    fireEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByText("Password changed. Other devices and apps are signed out.")).toBeTruthy();
    expect((screen.getByLabelText("Current password") as HTMLInputElement).value).toBe("");
  });
});

describe("SettingsView password policy", () => {
  it("takes the minimum length from the server's policy", async () => {
    server({
      "GET /api/v1/settings/password-policy": () =>
        json({ min_length: 12, max_length: 1024, common_list: true, breached_list_entries: 0 }),
    });
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    fireEvent.change(await screen.findByLabelText("Current password"), { target: { value: "old-secret" } });
    await waitFor(() => {
      fireEvent.change(screen.getByLabelText("New password"), { target: { value: "ten-chars!" } });
      fireEvent.change(screen.getByLabelText("Confirm password"), { target: { value: "ten-chars!" } });
      fireEvent.click(screen.getByRole("button", { name: "Change password" }));
      expect(screen.getByText("Use at least 12 characters.")).toBeTruthy();
    });
  });

  it("says the server's refusals in the user's language, by their codes", async () => {
    server({
      "POST /api/v1/settings/password": () =>
        json(
          {
            error: "invalid",
            detail: "new_password: This password is too common.",
            fields: { new_password: ["This password is too common.", "Some future rule."] },
            field_codes: { new_password: ["password_too_common", "password_future_rule"] },
          },
          400,
        ),
    });
    renderIn("ko", <SettingsView onClose={vi.fn()} />);
    fireEvent.change(await screen.findByLabelText("현재 비밀번호"), { target: { value: "old-secret" } });
    fireEvent.change(screen.getByLabelText("새 비밀번호"), { target: { value: "1q2w3e4r!" } });
    fireEvent.change(screen.getByLabelText("비밀번호 확인"), { target: { value: "1q2w3e4r!" } });
    fireEvent.click(screen.getByRole("button", { name: "비밀번호 변경" }));
    // One field error with both: the known code in Korean, an unknown one as the server said it.
    expect(await screen.findByText("너무 흔해서 쉽게 추측되는 비밀번호입니다. Some future rule.")).toBeTruthy();
  });
});

describe("SettingsView login history", () => {
  it("lists sign-ins by door and result, in Korean, and pages back", async () => {
    server();
    renderIn("ko", <SettingsView onClose={vi.fn()} />);
    const table = await screen.findByTestId("login-history");
    expect(within(table).getByText("IMAP · 앱 비밀번호")).toBeTruthy();
    expect(within(table).getByText("Thunderbird 128.5")).toBeTruthy();
    fireEvent.click(screen.getByTestId("login-history-more"));
    expect(await within(table).findByText("비밀번호 틀림")).toBeTruthy();
    expect(within(table).getByText("웹")).toBeTruthy();
    expect(screen.queryByTestId("login-history-more")).toBeNull();
  });
});

describe("SettingsView sessions", () => {
  it("lists signed-in browsers and signs one out", async () => {
    const { calls } = server();
    renderIn("ko", <SettingsView onClose={vi.fn()} />);
    const list = await screen.findByTestId("active-sessions");
    expect(within(list).getByText("Safari on iOS")).toBeTruthy();
    expect(within(list).getByText(/지금 이 브라우저/)).toBeTruthy();
    fireEvent.click(screen.getByTestId("session-end-6"));
    await waitFor(() => expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/settings/sessions/6")).toBe(true));
  });
});

describe("SettingsView app passwords", () => {
  it("lists them, shows a new secret once, and revokes after confirmation", async () => {
    const { calls } = server({
      "POST /api/v1/app-passwords": () =>
        json({ id: 2, name: "Phone", created_at: "2026-03-01T00:00:00Z", password: "abcd-efgh-ijkl-mnop" }, 201),
      "DELETE /api/v1/app-passwords/1": () => noContent(),
    });
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    const list = await screen.findByTestId("app-password-list");
    expect(within(list).getByText("Thunderbird")).toBeTruthy();
    expect(within(list).getByText(/192\.0\.2\.7/)).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: "Create app password" }));
    expect(screen.getByText("Give the app password a name.")).toBeTruthy();
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    fireEvent.change(screen.getByLabelText("Name", { exact: true }), { target: { value: " Phone " } });
    fireEvent.click(screen.getByRole("button", { name: "Create app password" }));
    const secret = (await screen.findByTestId("app-password-secret")) as HTMLInputElement;
    expect(secret.value).toBe("abcd-efgh-ijkl-mnop");
    expect(secret.readOnly).toBe(true);
    expect(screen.getByText("Copy it now: it is shown only this once and cannot be seen again.")).toBeTruthy();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ name: "Phone" });
    expect(within(list).getByText("Phone")).toBeTruthy();
    // Once dismissed, the secret is gone from the page for good.
    fireEvent.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByTestId("app-password-secret")).toBeNull();
    expect(document.body.textContent).not.toContain("abcd-efgh-ijkl-mnop");

    fireEvent.click(screen.getByRole("button", { name: "Revoke Thunderbird" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    fireEvent.click(screen.getByTestId("app-password-revoke-yes-1"));
    await waitFor(() => expect(within(list).queryByText("Thunderbird")).toBeNull());
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/app-passwords/1")).toBe(true);
  });

  it("says so when the list cannot be loaded, and retries", async () => {
    let fail = true;
    server({
      "GET /api/v1/app-passwords": () => (fail ? json({ error: "storage_unavailable", detail: "down" }, 503) : json([])),
    });
    renderIn("en", <SettingsView onClose={vi.fn()} />);
    const section = (await screen.findByRole("heading", { name: "App passwords" })).closest("section") as HTMLElement;
    expect((await within(section).findByRole("alert")).textContent).toContain("down");
    fail = false;
    fireEvent.click(within(section).getByRole("button", { name: "Try again" }));
    expect(await within(section).findByText("No app passwords.")).toBeTruthy();
  });
});

describe("SettingsView sessions", () => {
  it("signs out everywhere after a confirmation", async () => {
    const { calls } = server({ "POST /api/v1/auth/logout-everywhere": () => noContent() });
    const onSignedOut = vi.fn();
    renderIn("en", <SettingsView onClose={vi.fn()} onSignedOut={onSignedOut} />);
    fireEvent.click(await screen.findByTestId("sign-out-everywhere"));
    expect(calls.some((c) => c.path === "/api/v1/auth/logout-everywhere")).toBe(false);
    fireEvent.click(screen.getByTestId("sign-out-everywhere-yes"));
    await waitFor(() => expect(onSignedOut).toHaveBeenCalledTimes(1));
  });

  it("shows an error when the settings cannot be loaded", async () => {
    stubApi({ "GET /api/v1/settings": () => json({ error: "storage_unavailable", detail: "db down" }, 503) });
    const onClose = vi.fn();
    renderIn("en", <SettingsView onClose={onClose} />);
    expect((await screen.findByRole("alert")).textContent).toContain("db down");
    fireEvent.click(screen.getByRole("button", { name: "Back to mail" }));
    expect(onClose).toHaveBeenCalled();
  });
});

describe("SettingsView POP3", () => {
  it("saves what a POP3 delete does and the only-new switch, in Korean too", async () => {
    const { calls } = server();
    renderIn("ko", <SettingsView onClose={vi.fn()} section="pop3" />);
    const policy = await screen.findByLabelText("POP3 프로그램에서 메일을 삭제하면");
    expect((policy as HTMLSelectElement).value).toBe("delete");
    fireEvent.change(policy, { target: { value: "keep" } });
    await waitFor(() =>
      expect(calls.some((c) => c.method === "PATCH" && c.path === "/api/v1/settings/pop3")).toBe(true),
    );
    const patch = calls.find((c) => c.method === "PATCH" && c.path === "/api/v1/settings/pop3");
    expect(patch?.body).toEqual({ on_delete: "keep" });
    fireEvent.click(screen.getByTestId("settings-pop3-only-new"));
    await waitFor(() =>
      expect(calls.filter((c) => c.method === "PATCH" && c.path === "/api/v1/settings/pop3").at(-1)?.body).toEqual({
        only_new: true,
      }),
    );
    expect((screen.getByTestId("settings-pop3-only-new") as HTMLInputElement).checked).toBe(true);
  });
});
