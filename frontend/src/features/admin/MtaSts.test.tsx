import { configure, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, stubApi } from "../settings/apiStub";
import { AdminView } from "./AdminView";

configure({ asyncUtilTimeout: 5000 });

afterEach(() => vi.unstubAllGlobals());

const ADMIN = { address: "boss@a.example", display_name: "", is_superadmin: false, admin_domains: ["a.example"], addresses: ["boss@a.example"] };
const DOMAIN = { id: 1, name: "a.example", unicode_name: "a.example", is_active: true, created_at: "2026-01-01T00:00:00Z", accounts: 2, aliases: 1, catchall: null };
const BASE = "/api/v1/admin/domains/a.example";

function policy(mode: string, id: string) {
  return {
    domain: "a.example",
    mode,
    max_age: 604800,
    extra_mx: [],
    mx: ["mail.a.example"],
    text: `version: STSv1\r\nmode: ${mode}\r\nmx: mail.a.example\r\nmax_age: 604800\r\n`,
    policy_id: id,
    sts_record: `v=STSv1; id=${id}`,
    tlsrpt_record: "v=TLSRPTv1; rua=mailto:postmaster@a.example",
  };
}

const REPORT = {
  id: 7,
  organization: "Big Mail Inc.",
  contact: "tls@bigmail.test",
  report_id: "r1",
  start: "2026-03-01T00:00:00Z",
  end: "2026-03-01T23:59:59Z",
  successful: 5326,
  failed: 303,
  received_at: "2026-03-02T01:00:00Z",
  policies: [
    {
      policy_type: "sts",
      policy_domain: "a.example",
      mx_host: ["mail.a.example"],
      successful: 5326,
      failed: 303,
      failures: [
        {
          result_type: "certificate-expired",
          sending_mta_ip: "2001:db8::1",
          receiving_mx_hostname: "mail.a.example",
          receiving_ip: "",
          failed_session_count: 303,
          additional_information: "",
          failure_reason_code: "",
        },
      ],
    },
  ],
};

describe("MTA-STS in the domain page", () => {
  it("shows the records and a received report, and saves a new mode", async () => {
    const api = stubApi({
      "GET /api/v1/auth/session": () => json(ADMIN),
      [`GET ${BASE}`]: () => json(DOMAIN),
      [`GET ${BASE}/dkim`]: () => json({ keys: [] }),
      [`GET ${BASE}/mta-sts`]: () => json(policy("testing", "aaa111")),
      [`PUT ${BASE}/mta-sts`]: () => json(policy("enforce", "bbb222")),
      [`GET ${BASE}/tls-reports`]: () => json({ items: [REPORT] }),
    });
    renderIn("en", <AdminView path="domains/a.example" onNavigate={vi.fn()} />);
    const section = await screen.findByTestId("mta-sts");
    expect(await within(section).findByDisplayValue("v=STSv1; id=aaa111")).toBeTruthy();
    expect(within(section).getByDisplayValue("v=TLSRPTv1; rua=mailto:postmaster@a.example")).toBeTruthy();
    const table = await within(section).findByTestId("tls-reports");
    expect(table.textContent).toContain("Big Mail Inc.");
    expect(table.textContent).toContain("5326");
    expect(table.textContent).toContain("certificate-expired: 303 from 2001:db8::1 to mail.a.example");

    fireEvent.change(within(section).getByTestId("sts-mode"), { target: { value: "enforce" } });
    fireEvent.click(within(section).getByTestId("sts-save"));
    expect(await within(section).findByText("Saved. The policy id changed: publish the new _mta-sts TXT record.")).toBeTruthy();
    await waitFor(() => expect(within(section).getByDisplayValue("v=STSv1; id=bbb222")).toBeTruthy());
    const put = api.calls.find((c) => c.method === "PUT");
    expect(put?.body).toEqual({ mode: "enforce", max_age: 604800, extra_mx: [] });
  }, 20000);

  it("refuses a max age past one year before asking the server", async () => {
    const api = stubApi({
      "GET /api/v1/auth/session": () => json(ADMIN),
      [`GET ${BASE}`]: () => json(DOMAIN),
      [`GET ${BASE}/dkim`]: () => json({ keys: [] }),
      [`GET ${BASE}/mta-sts`]: () => json(policy("testing", "aaa111")),
      [`GET ${BASE}/tls-reports`]: () => json({ items: [] }),
    });
    renderIn("ko", <AdminView path="domains/a.example" onNavigate={vi.fn()} />);
    const section = await screen.findByTestId("mta-sts");
    expect(await within(section).findByText(/TLS 보고서가 아직 없습니다/)).toBeTruthy();
    const age = within(section).getByDisplayValue("604800");
    fireEvent.change(age, { target: { value: "99999999" } });
    fireEvent.click(within(section).getByTestId("sts-save"));
    expect(await within(section).findByText("최대 유지 시간은 0에서 31557600초 사이여야 합니다.")).toBeTruthy();
    expect(api.calls.some((c) => c.method === "PUT")).toBe(false);
  }, 20000);
});
