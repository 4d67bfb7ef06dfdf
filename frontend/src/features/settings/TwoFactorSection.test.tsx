import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, stubApi } from "./apiStub";
import { TwoFactorSection } from "./TwoFactorSection";

const OFF = { on: false, totp: false, passkeys: [], recovery_codes_left: 0, required_by_domain: false, enrolment_required: false };
const ON = { ...OFF, on: true, totp: true, recovery_codes_left: 10 };
const CODES = Array.from({ length: 10 }, (_, i) => `abcd${i}-efgh${i}`);

afterEach(() => vi.unstubAllGlobals());

describe("TwoFactorSection", () => {
  it("sets up the app with the QR code and a first code, then shows the recovery codes once", async () => {
    let on = false;
    const { calls } = stubApi({
      "GET /api/v1/settings/two-factor": () => json(on ? ON : OFF),
      "POST /api/v1/settings/two-factor/totp": () =>
        json({ secret: "JBSWY3DPEHPK3PXP", uri: "otpauth://totp/x", qr_svg: '<svg data-testid="qr"></svg>' }, 201),
      "PUT /api/v1/settings/two-factor/totp": (req) => {
        if ((req.body as { code: string }).code !== "123456") return json({ error: "wrong_code", detail: "no" }, 400);
        on = true;
        return json({ recovery_codes: CODES });
      },
    });
    renderIn("en", <TwoFactorSection />);
    expect((await screen.findByTestId("two-factor-mail-apps")).textContent).toContain("app password");
    fireEvent.click(screen.getByTestId("totp-start"));
    // The SVG is an image's data, never markup in the page.
    const qr = (await screen.findByRole("img")) as HTMLImageElement;
    expect(qr.src.startsWith("data:image/svg+xml")).toBe(true);
    expect(decodeURIComponent(qr.src)).toContain('<svg data-testid="qr">');
    expect(screen.queryByTestId("qr")).toBeNull();
    expect(screen.getByTestId("totp-secret").textContent).toBe("JBSWY3DPEHPK3PXP");
    fireEvent.change(screen.getByTestId("totp-code"), { target: { value: "000000" } });
    fireEvent.click(screen.getByTestId("totp-confirm"));
    expect((await screen.findByRole("alert")).textContent).toBe("That code is not right.");
    fireEvent.change(screen.getByTestId("totp-code"), { target: { value: "123456" } });
    fireEvent.click(screen.getByTestId("totp-confirm"));
    const shown = await screen.findByTestId("recovery-codes");
    expect(shown.querySelectorAll("code")).toHaveLength(10);
    await waitFor(() => expect(screen.getByTestId("two-factor-state").textContent).toContain("On"));
    fireEvent.click(screen.getByTestId("recovery-codes-done"));
    expect(screen.queryByTestId("recovery-codes")).toBeNull(); // shown once
    expect(calls.filter((c) => c.method === "PUT").map((c) => c.body)).toEqual([{ code: "000000" }, { code: "123456" }]);
  });

  it("turns off with the password and a code, in Korean", async () => {
    const { calls } = stubApi({
      "GET /api/v1/settings/two-factor": () => json(ON),
      "DELETE /api/v1/settings/two-factor": () => json(OFF),
    });
    renderIn("ko", <TwoFactorSection />);
    fireEvent.click(await screen.findByTestId("two-factor-off"));
    fireEvent.change(screen.getByTestId("two-factor-off-password"), { target: { value: "pw" } });
    fireEvent.change(screen.getByTestId("two-factor-off-code"), { target: { value: "654321" } });
    fireEvent.click(screen.getByTestId("two-factor-off-yes"));
    await waitFor(() => expect(screen.getByTestId("two-factor-state").textContent).toContain("사용 안 함"));
    expect(calls.find((c) => c.method === "DELETE")?.body).toEqual({ password: "pw", code: "654321" });
  });
});
