import { configure, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, stubApi, type StubRequest } from "../settings/apiStub";
import { AdminView } from "./AdminView";

configure({ asyncUtilTimeout: 5000 });

afterEach(() => vi.unstubAllGlobals());

const ADMIN = { address: "boss@a.example", display_name: "", is_superadmin: false, admin_domains: ["a.example"], addresses: ["boss@a.example"], second_factor_enrolment_required: false };
const DOMAIN = { id: 1, name: "a.example", unicode_name: "a.example", is_active: true, created_at: "2026-01-01T00:00:00Z", accounts: 2, aliases: 1, catchall: null };

function key(selector: string, state: "pending" | "active" | "retired") {
  return {
    selector,
    algorithm: "rsa-sha256",
    state,
    is_active: state === "active",
    created_at: "2026-12-01T00:00:00Z",
    activated_at: state === "pending" ? null : "2026-12-01T00:00:00Z",
    dns_name: `${selector}._domainkey.a.example`,
    dns_value: `v=DKIM1; k=rsa; p=${selector.toUpperCase()}KEY`,
    dns_record: `${selector}._domainkey.a.example. IN TXT ( "v=DKIM1; k=rsa; p=${selector.toUpperCase()}KEY" )`,
  };
}

const ACTIVATE = "POST /api/v1/admin/domains/a.example/dkim/new/activate";

function server(activate: (req: StubRequest) => Response) {
  let keys = [key("old", "active"), key("new", "pending")];
  const api = stubApi({
    "GET /api/v1/auth/session": () => json(ADMIN),
    "GET /api/v1/admin/domains/a.example": () => json(DOMAIN),
    "GET /api/v1/admin/domains/a.example/dkim": () => json({ keys }),
    [ACTIVATE]: (req) => {
      const res = activate(req);
      if (res.status === 200) keys = [key("new", "active"), key("old", "retired")];
      return res;
    },
  });
  renderIn("en", <AdminView path="domains/a.example" onNavigate={vi.fn()} />);
  return api;
}

const activated = () => json({ key: key("new", "active"), retired: ["old"], forced: false });

describe("DKIM keys", () => {
  it("shows the pending key beside the signing one, both records, and activates it", async () => {
    const api = server(activated);
    const pending = await screen.findByTestId("dkim-key-new");
    expect(within(pending).getByText("pending")).toBeTruthy();
    expect(pending.textContent).toContain("the current key signs until you activate this one");
    expect(within(screen.getByTestId("dkim-key-old")).getByText("signing")).toBeTruthy();
    expect(screen.getByText(/old\._domainkey\.a\.example\. IN TXT/)).toBeTruthy();
    expect(screen.getByText(/new\._domainkey\.a\.example\. IN TXT/)).toBeTruthy();
    expect(screen.queryByTestId("dkim-activate-old")).toBeNull();

    fireEvent.click(screen.getByTestId("dkim-activate-new"));
    expect(await screen.findByText("new now signs outgoing mail; old is retired.")).toBeTruthy();
    await waitFor(() => expect(within(screen.getByTestId("dkim-key-new")).getByText("signing")).toBeTruthy());
    expect(within(screen.getByTestId("dkim-key-old")).getByText("retired")).toBeTruthy();
    expect(screen.queryByTestId("dkim-activate-new")).toBeNull();
    expect(api.calls.filter((c) => c.method === "POST").map((c) => c.body)).toEqual([{ force: false }]);
  });

  it("explains a refusal from the DNS check and activates anyway only when confirmed", async () => {
    const api = server((req) =>
      (req.body as { force: boolean }).force
        ? json({ key: key("new", "active"), retired: ["old"], forced: true })
        : json({ error: "dkim_not_published", detail: "DNS does not show the new key yet (new._domainkey.a.example: missing, found nothing)" }, 409),
    );
    fireEvent.click(await screen.findByTestId("dkim-activate-new"));
    const dialog = await screen.findByRole("alertdialog", { name: "Activate without the DNS record" });
    expect(dialog.textContent).toContain("DNS does not show the new key's record yet");
    expect(dialog.textContent).not.toContain("found nothing");
    expect(within(screen.getByTestId("dkim-key-new")).getByText("pending")).toBeTruthy();
    fireEvent.click(within(dialog).getByRole("button", { name: "Activate anyway" }));
    expect(await screen.findByText("new now signs outgoing mail; old is retired.")).toBeTruthy();
    expect(api.calls.filter((c) => c.path === ACTIVATE.slice(5)).map((c) => c.body)).toEqual([{ force: false }, { force: true }]);
  });
});
