import { configure, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, noContent, stubApi, type StubRequest } from "./apiStub";
import { FetchAccountsSection } from "./FetchAccountsSection";
import type { ExternalAccount } from "./fetchApi";

configure({ asyncUtilTimeout: 5000 });
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

const BASE = "/api/v1/settings/fetch-accounts";

function account(extra: Partial<ExternalAccount> = {}): ExternalAccount {
  return {
    id: 7,
    protocol: "imap",
    host: "imap.old.example",
    port: 993,
    security: "tls",
    username: "me",
    folder_id: null,
    keep: true,
    interval_minutes: 10,
    enabled: true,
    allow_self_signed: false,
    cert_sha256: "",
    running: false,
    last_run_at: "2026-12-04T10:00:00Z",
    next_run_at: "2026-12-04T10:10:00Z",
    last_fetched: 3,
    total_fetched: 12,
    last_error_code: "",
    last_error_detail: "",
    ...extra,
  };
}

const FOLDERS = {
  results: [
    { id: 1, name: "INBOX", special_use: "inbox" },
    { id: 9, name: "Old address", special_use: "" },
  ],
};

describe("FetchAccountsSection", () => {
  it("lists each account with its last run, count and last error in plain words (ko)", async () => {
    stubApi({
      [`GET ${BASE}`]: () =>
        json([
          account(),
          account({
            id: 8,
            host: "pop.other.example",
            protocol: "pop3",
            keep: false,
            last_fetched: 0,
            last_error_code: "login",
            last_error_detail: "pop.other.example refused the login: -ERR [AUTH] Authentication failed.",
          }),
        ]),
      "GET /api/v1/folders": () => json(FOLDERS),
    });
    renderIn("ko", <FetchAccountsSection />);
    const ok = await screen.findByTestId("fetch-account-7");
    expect(within(ok).getByTestId("fetch-last-run-7").textContent).toContain("3통 가져옴 (모두 12통)");
    expect(within(ok).getByTestId("fetch-status-7").textContent).toBe("정상");
    const bad = screen.getByTestId("fetch-status-8").textContent ?? "";
    expect(bad).toContain("서버가 아이디 또는 비밀번호를 거부했습니다.");
    expect(bad).toContain("Authentication failed"); // the server's own words too
    expect(screen.getByTestId("fetch-account-8").textContent).toContain("원본 삭제");
  });

  it("adds an account, showing the server's refusal first, then the saved account", async () => {
    let attempts = 0;
    const { calls } = stubApi({
      [`GET ${BASE}`]: () => json([]),
      "GET /api/v1/folders": () => json(FOLDERS),
      [`POST ${BASE}`]: (req: StubRequest) => {
        attempts += 1;
        if (attempts === 1)
          return json(
            { error: "fetch_certificate", detail: "The certificate of 10.0.0.1 was not accepted: self-signed certificate." },
            400,
          );
        return json(account({ id: 11, ...(req.body as object), last_run_at: null, last_fetched: 0 }), 201);
      },
    });
    renderIn("en", <FetchAccountsSection />);
    expect(await screen.findByText("No external accounts yet.")).toBeTruthy();
    fireEvent.click(screen.getByTestId("fetch-add"));
    fireEvent.change(screen.getByTestId("fetch-protocol"), { target: { value: "pop3" } });
    expect((screen.getByTestId("fetch-port") as HTMLInputElement).value).toBe("995");
    fireEvent.change(screen.getByTestId("fetch-host"), { target: { value: " mail.old.example " } });
    fireEvent.change(screen.getByTestId("fetch-username"), { target: { value: "me" } });
    fireEvent.change(screen.getByTestId("fetch-password"), { target: { value: "s3cret" } });
    fireEvent.change(screen.getByTestId("fetch-folder"), { target: { value: "9" } });
    fireEvent.click(screen.getByTestId("fetch-keep"));
    fireEvent.click(screen.getByTestId("fetch-save"));
    const alert = await screen.findByTestId("fetch-form-error");
    expect(alert.textContent).toContain("The server's certificate was not accepted.");
    expect(alert.textContent).toContain("self-signed certificate");
    fireEvent.click(screen.getByTestId("fetch-self-signed"));
    fireEvent.click(screen.getByTestId("fetch-save"));
    const row = await screen.findByTestId("fetch-account-11");
    expect(row.textContent).toContain("me@mail.old.example (POP3, deleted there)");
    expect(screen.queryByTestId("fetch-form")).toBeNull();
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts[1]?.body).toEqual({
      protocol: "pop3",
      security: "tls",
      host: "mail.old.example",
      port: 995,
      username: "me",
      password: "s3cret",
      folder_id: 9,
      keep: false,
      interval_minutes: 10,
      enabled: true,
      allow_self_signed: true,
    });
  });

  it("fetch now asks for a run and shows its outcome when it is in", async () => {
    let runs = 0;
    let reads = 0;
    stubApi({
      [`GET ${BASE}`]: () => {
        reads += 1;
        return json([runs && reads > 2 ? account({ last_run_at: "2026-12-04T11:00:00Z", last_fetched: 5, total_fetched: 17 }) : account()]);
      },
      "GET /api/v1/folders": () => json(FOLDERS),
      [`POST ${BASE}/7/runs`]: () => {
        runs += 1;
        return json(account(), 202);
      },
    });
    renderIn("en", <FetchAccountsSection />);
    fireEvent.click(await screen.findByTestId("fetch-now-7"));
    await waitFor(() => expect(screen.getByTestId("fetch-status-7").textContent).toBe("Fetching now…"));
    await waitFor(() => expect(screen.getByTestId("fetch-last-run-7").textContent).toContain("5 came in (17 in all)"), {
      timeout: 8000,
    });
    expect(screen.getByTestId("fetch-status-7").textContent).toBe("OK");
    expect(runs).toBe(1);
  });

  it("edits without resending the password, and deletes after a confirmation", async () => {
    const { calls } = stubApi({
      [`GET ${BASE}`]: () => json([account()]),
      "GET /api/v1/folders": () => json(FOLDERS),
      [`PATCH ${BASE}/7`]: (req) => json(account(req.body as Partial<ExternalAccount>)),
      [`DELETE ${BASE}/7`]: () => noContent(),
    });
    renderIn("en", <FetchAccountsSection />);
    fireEvent.click(await screen.findByTestId("fetch-edit-7"));
    expect(screen.getByText("Leave empty to keep the saved password.")).toBeTruthy();
    fireEvent.change(screen.getByTestId("fetch-interval"), { target: { value: "30" } });
    fireEvent.click(screen.getByTestId("fetch-save"));
    await waitFor(() => expect(screen.queryByTestId("fetch-form")).toBeNull());
    const patch = calls.find((c) => c.method === "PATCH")?.body as Record<string, unknown>;
    expect(patch.interval_minutes).toBe(30);
    expect("password" in patch).toBe(false);
    fireEvent.click(screen.getByTestId("fetch-delete-7"));
    fireEvent.click(screen.getByTestId("fetch-delete-yes-7"));
    expect(await screen.findByText("No external accounts yet.")).toBeTruthy();
    expect(calls.some((c) => c.method === "DELETE" && c.path === `${BASE}/7`)).toBe(true);
  });
});
