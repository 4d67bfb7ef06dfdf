import { configure, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, noContent, stubApi, type StubRequest } from "../settings/apiStub";
import { AdminView } from "./AdminView";
import { MB } from "./quota";

configure({ asyncUtilTimeout: 5000 });

afterEach(() => vi.unstubAllGlobals());

const SUPER = { address: "root@example.com", display_name: "", is_superadmin: true, admin_domains: [], addresses: ["root@example.com"], second_factor_enrolment_required: false };
const DOMAIN_ADMIN = { address: "boss@a.example", display_name: "", is_superadmin: false, admin_domains: ["a.example"], addresses: ["boss@a.example"], second_factor_enrolment_required: false };
const USER = { address: "ann@a.example", display_name: "", is_superadmin: false, admin_domains: [], addresses: ["ann@a.example"], second_factor_enrolment_required: false };

const DOMAIN = { id: 1, name: "a.example", unicode_name: "a.example", is_active: true, created_at: "2026-01-01T00:00:00Z", accounts: 2, aliases: 1, catchall: null };
const ACCOUNT = {
  id: 7,
  address: "ann@a.example",
  domain: "a.example",
  display_name: "Ann",
  quota_bytes: 100 * MB,
  used_bytes: 25 * MB,
  is_active: true,
  is_superadmin: false,
  admin_domains: [],
  created_at: "2026-01-01T00:00:00Z",
  last_login: null,
};

type Routes = Record<string, (req: StubRequest) => Response>;

function server(session: object, extra: Routes = {}) {
  return stubApi({
    "GET /api/v1/auth/session": () => json(session),
    "GET /api/v1/admin/domains": () => json({ items: [DOMAIN], next_cursor: null }),
    "GET /api/v1/admin/aliases": () => json({ items: [], next_cursor: null }),
    "GET /api/v1/admin/relay-rules": () => json({ items: [], next_cursor: null }),
    ...extra,
  });
}

function show(path: string) {
  const onNavigate = vi.fn();
  renderIn("en", <AdminView path={path} onNavigate={onNavigate} />);
  return onNavigate;
}

describe("AdminView roles", () => {
  it("tells a plain user the console is not allowed", async () => {
    server(USER);
    show("");
    expect(await screen.findByRole("heading", { name: "Not allowed" })).toBeTruthy();
    expect(screen.queryByRole("navigation", { name: "Admin console sections" })).toBeNull();
  });

  it("shows a superadmin every section and the add-domain form", async () => {
    server(SUPER);
    show("domains");
    const nav = await screen.findByRole("navigation", { name: "Admin console sections" });
    expect(within(nav).getByRole("link", { name: "Relay rules" })).toBeTruthy();
    expect(within(nav).getByRole("link", { name: "Domains" }).getAttribute("aria-current")).toBe("page");
    expect(await screen.findByRole("form", { name: "Add domain" })).toBeTruthy();
    expect(await screen.findByRole("link", { name: "a.example" })).toBeTruthy();
  });

  it("hides superadmin-only controls from a domain admin", async () => {
    server(DOMAIN_ADMIN);
    show("domains");
    const nav = await screen.findByRole("navigation", { name: "Admin console sections" });
    expect(within(nav).queryByRole("link", { name: "Relay rules" })).toBeNull();
    expect(screen.getByText("Domain admin of a.example")).toBeTruthy();
    await screen.findByRole("link", { name: "a.example" });
    expect(screen.queryByRole("form", { name: "Add domain" })).toBeNull();
  });

  it("gives a domain admin the not-found page for relay rules and another domain", async () => {
    server(DOMAIN_ADMIN, {
      "GET /api/v1/admin/domains/b.example": () => json({ error: "not_found", detail: "Not found." }, 404),
      "GET /api/v1/admin/domains/b.example/dkim": () => json({ error: "not_found", detail: "Not found." }, 404),
    });
    show("relay");
    expect(await screen.findByRole("heading", { name: "Not found" })).toBeTruthy();
  });

  it("shows not found for another domain's page", async () => {
    server(DOMAIN_ADMIN, {
      "GET /api/v1/admin/domains/b.example": () => json({ error: "not_found", detail: "Not found." }, 404),
      "GET /api/v1/admin/domains/b.example/dkim": () => json({ error: "not_found", detail: "Not found." }, 404),
    });
    show("domains/b.example");
    expect(await screen.findByRole("heading", { name: "Not found" })).toBeTruthy();
  });

  it("navigates inside the console with real links", async () => {
    server(SUPER, { "GET /api/v1/admin/dashboard?days=14": () => json({ traffic: [], queue: { queued: 0, held: 0, deferred_recipients: 0, paused: 0 }, domains: [], top_accounts: [], warnings: [] }) });
    const onNavigate = show("");
    const nav = await screen.findByRole("navigation", { name: "Admin console sections" });
    const link = within(nav).getByRole("link", { name: "Mail queue" });
    expect(link.getAttribute("href")).toBe("/admin/queue");
    fireEvent.click(link);
    expect(onNavigate).toHaveBeenCalledWith("queue");
  });
});

describe("AdminView forms", () => {
  it("checks alias targets before sending and shows the server's loop refusal in words", async () => {
    const api = server(SUPER, {
      "POST /api/v1/admin/aliases": () => json({ error: "alias_loop", detail: "alias a@a.example → b@a.example would create a loop" }, 409),
    });
    show("aliases");
    const form = await screen.findByRole("form", { name: "Add alias" });
    fireEvent.change(within(form).getByLabelText("Alias address"), { target: { value: "a@a.example" } });
    fireEvent.change(within(form).getByLabelText("Targets"), { target: { value: "b@a.example, nonsense" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add alias" }));
    expect(await within(form).findByText("Not an address: nonsense")).toBeTruthy();
    expect(api.calls.some((c) => c.method === "POST")).toBe(false);

    fireEvent.change(within(form).getByLabelText("Targets"), { target: { value: "b@a.example" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add alias" }));
    const alert = await within(form).findByText(/would deliver in a circle/);
    // The stable code in words; the server's English detail stays in its log (issue 12).
    expect(alert.textContent).not.toContain("would create a loop");
    expect(api.calls.find((c) => c.method === "POST")?.body).toEqual({ source: "a@a.example", targets: ["b@a.example"] });
  });

  it("saves a quota typed in MB as bytes and shows the usage bar", async () => {
    const api = server(SUPER, {
      "GET /api/v1/admin/accounts/7": () => json(ACCOUNT),
      "PATCH /api/v1/admin/accounts/7": (req) => json({ ...ACCOUNT, ...(req.body as object) }),
      "GET /api/v1/admin/accounts/7/app-passwords": () => json([]),
      "GET /api/v1/admin/accounts/7/aliases": () => json({ items: [] }),
    });
    show("accounts/7");
    const meter = await screen.findByRole("meter", { name: "Storage used" });
    expect(meter.getAttribute("aria-valuenow")).toBe("25");
    const quota = screen.getByLabelText("Quota (MB)");
    expect((quota as HTMLInputElement).value).toBe("100");
    fireEvent.change(quota, { target: { value: "-3" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Enter a number of MB (0 = unlimited).")).toBeTruthy();
    fireEvent.change(quota, { target: { value: "2048" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("Saved.");
    expect(api.calls.find((c) => c.method === "PATCH")?.body).toEqual({ display_name: "Ann", quota_bytes: 2048 * MB });
  });

  it("asks before adding a wide relay network and then forces it", async () => {
    const api = server(SUPER, {
      "POST /api/v1/admin/relay-rules": (req) =>
        (req.body as { force: boolean }).force
          ? json({ id: 3, network: "10.0.0.0/8", action: "RELAY", sender_domain: "", recipient_domain: "", comment: "", created_at: "2026-01-01T00:00:00Z" }, 201)
          : json({ error: "relay_too_wide", detail: "10.0.0.0/8 is wider than /24; refusing without --force" }, 409),
    });
    show("relay");
    const form = await screen.findByRole("form", { name: "Add rule" });
    fireEvent.change(within(form).getByLabelText("Network"), { target: { value: "10.0.0.0/8" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add rule" }));
    const dialog = await screen.findByRole("alertdialog", { name: "A wide network" });
    expect(dialog.textContent).not.toContain("--force");
    fireEvent.click(within(dialog).getByRole("button", { name: "Add anyway" }));
    expect(await screen.findByText("Rule for 10.0.0.0/8 added.")).toBeTruthy();
    expect(api.calls.filter((c) => c.method === "POST").map((c) => (c.body as { force: boolean }).force)).toEqual([false, true]);
  });

  it("refuses to remove a domain with accounts until forced", async () => {
    const api = server(SUPER, {
      "GET /api/v1/admin/domains/a.example": () => json(DOMAIN),
      "GET /api/v1/admin/domains/a.example/dkim": () => json({ keys: [] }),
      "DELETE /api/v1/admin/domains/a.example": () => json({ error: "domain_not_empty", detail: "domain a.example still has 2 account(s); remove them or force" }, 409),
      "DELETE /api/v1/admin/domains/a.example?force=true": () => noContent(),
    });
    const onNavigate = show("domains/a.example");
    fireEvent.click(await screen.findByRole("button", { name: "Remove domain" }));
    fireEvent.click(within(await screen.findByRole("alertdialog")).getByRole("button", { name: "Remove domain" }));
    const force = await screen.findByRole("alertdialog", { name: "Remove with its accounts" });
    expect(force.textContent).toContain("a.example still has accounts.");
    expect(force.textContent).not.toContain("remove them or force");
    fireEvent.click(within(force).getByRole("button", { name: "Remove with its accounts" }));
    await waitFor(() => expect(onNavigate).toHaveBeenCalledWith("domains"));
    expect(api.calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual([
      "/api/v1/admin/domains/a.example",
      "/api/v1/admin/domains/a.example?force=true",
    ]);
  });
});

describe("AdminView pages", () => {
  it("draws the dashboard's figures and a bar per day", async () => {
    server(SUPER, {
      "GET /api/v1/admin/dashboard?days=14": () =>
        json({
          traffic: [
            { date: "2026-11-27", inbound: 4, outbound: 1 },
            { date: "2026-11-28", inbound: 2, outbound: 3 },
          ],
          queue: { queued: 5, held: 1, deferred_recipients: 2, paused: 0 },
          domains: [{ name: "a.example", accounts: 3, used_bytes: 2 * MB }],
          top_accounts: [{ id: 7, address: "ann@a.example", used_bytes: MB, quota_bytes: 4 * MB }],
          warnings: [],
        }),
    });
    show("");
    const chart = await screen.findByRole("img", { name: "Messages in and out per day" });
    expect(chart.querySelectorAll("rect")).toHaveLength(4);
    expect(chart.textContent).toContain("2026-11-28: 2 in, 3 out");
    expect(screen.getByText("Received").nextElementSibling?.textContent).toBe("6");
    expect(screen.getByText("Queued").nextElementSibling?.textContent).toBe("5");
    expect(screen.getByRole("link", { name: "ann@a.example" }).getAttribute("href")).toBe("/admin/accounts/7");
  });

  it("warns while postmaster@ or abuse@ has nowhere to go", async () => {
    server(SUPER, {
      "GET /api/v1/admin/dashboard?days=14": () =>
        json({
          traffic: [],
          queue: { queued: 0, held: 0, deferred_recipients: 0, paused: 0 },
          domains: [],
          top_accounts: [],
          warnings: [
            { code: "postmaster_unrouted", address: "postmaster@a.example", domain: "a.example", detail: "…" },
            { code: "abuse_unrouted", address: "abuse@a.example", domain: "a.example", detail: "…" },
          ],
        }),
    });
    show("");
    const box = await screen.findByRole("alert", { name: "Needs attention" });
    const items = Array.from(box.querySelectorAll("li")).map((li) => li.textContent);
    expect(items).toEqual([
      "postmaster@a.example has nowhere to go: mail to it is accepted (the mail standard requires it) but waits in the queue. Create an account or an alias for it, or set POSTMASTER_ADDRESS.",
      "abuse@a.example has nowhere to go: mail to it is refused. Create an account or an alias for it.",
    ]);
  });

  it("warns before a TLS certificate expires", async () => {
    server(SUPER, {
      "GET /api/v1/admin/dashboard?days=14": () =>
        json({
          traffic: [],
          queue: { queued: 0, held: 0, deferred_recipients: 0, paused: 0 },
          domains: [],
          top_accounts: [],
          warnings: [
            { code: "tls_expiring", address: "mail.a.example", domain: "mail.a.example", detail: "9 days left" },
          ],
        }),
    });
    show("");
    const box = await screen.findByRole("alert", { name: "Needs attention" });
    expect(box.textContent).toContain("The TLS certificate for mail.a.example expires soon (9 days left).");
  });

  it("retries a queue entry only after confirming, and words a refusal", async () => {
    const entry = {
      queue_id: "Q1",
      direction: "out",
      state: "queued",
      sender: "",
      size: 100,
      received_at: "2026-11-28T00:00:00Z",
      next_attempt_at: "2026-11-28T01:00:00Z",
      attempts: 1,
      last_error: "4.4.1 timeout",
      client_ip: null,
      message_id: "",
      origin: "",
      recipients: [],
      attempt_log: [],
    };
    const api = server(SUPER, {
      "GET /api/v1/admin/queue": () => json({ items: [entry], next_cursor: null }),
      "POST /api/v1/admin/queue/Q1/retry": () => json({ error: "queue_busy", detail: "Q1 is being delivered right now; try again shortly" }, 409),
    });
    show("queue");
    expect(await screen.findByText("(bounce: no sender)")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Retry now: Q1" }));
    const dialog = await screen.findByRole("alertdialog");
    expect(api.calls.some((c) => c.method === "POST")).toBe(false);
    fireEvent.click(within(dialog).getByRole("button", { name: "Retry now" }));
    expect(await screen.findByText("It is being delivered right now. Try again in a moment.")).toBeTruthy();
  });

  it("tells a signed-out visitor it is not allowed instead of loading for ever", async () => {
    stubApi({ "GET /api/v1/auth/session": () => json({ error: "not_authenticated", detail: "" }, 403) });
    show("");
    expect(await screen.findByRole("heading", { name: "Not allowed" })).toBeTruthy();
  });
});
