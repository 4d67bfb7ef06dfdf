import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, stubApi } from "../settings/apiStub";
import { fromBase64url, toBase64url } from "../twofactor/webauthn";
import { LoginForm } from "./LoginForm";

const USER = {
  address: "alice@example.com",
  display_name: "",
  is_superadmin: false,
  admin_domains: [],
  addresses: ["alice@example.com"],
  second_factor_enrolment_required: false,
};
const CHALLENGE = { second_factor_required: true, challenge: "c.1", methods: ["totp", "recovery"], passkey_options: null };

afterEach(() => vi.unstubAllGlobals());

function signIn(): void {
  fireEvent.change(screen.getByTestId("login-address"), { target: { value: "alice@example.com" } });
  fireEvent.change(screen.getByTestId("login-password"), { target: { value: "pw" } });
  fireEvent.click(screen.getByTestId("login-submit"));
}

describe("LoginForm with 2단계 인증", () => {
  it("asks for the code after the password, says a wrong one, and signs in with the right one", async () => {
    let tries = 0;
    const { calls } = stubApi({
      "POST /api/v1/auth/session": () => json(CHALLENGE, 202),
      "POST /api/v1/auth/session/second-factor": () =>
        ++tries === 1 ? json({ error: "wrong_code", detail: "no" }, 400) : json(USER),
    });
    const onSignedIn = vi.fn();
    renderIn("ko", <LoginForm onSignedIn={onSignedIn} />);
    signIn();
    fireEvent.change(await screen.findByTestId("second-factor-code"), { target: { value: "123456" } });
    fireEvent.click(screen.getByTestId("second-factor-submit"));
    expect((await screen.findByRole("alert")).textContent).toBe("코드가 올바르지 않습니다.");
    expect(onSignedIn).not.toHaveBeenCalled();
    expect(screen.queryByTestId("use-passkey")).toBeNull(); // no passkeys on this account
    fireEvent.click(screen.getByTestId("use-recovery"));
    fireEvent.change(screen.getByTestId("second-factor-code"), { target: { value: "abcde-fghjk" } });
    fireEvent.click(screen.getByTestId("second-factor-submit"));
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledWith(USER));
    expect(calls.filter((c) => c.path.endsWith("second-factor")).map((c) => c.body)).toEqual([
      { challenge: "c.1", code: "123456" },
      { challenge: "c.1", recovery_code: "abcde-fghjk" },
    ]);
  });

  it("signs in at once when the account has no second factor", async () => {
    stubApi({ "POST /api/v1/auth/session": () => json(USER) });
    const onSignedIn = vi.fn();
    renderIn("en", <LoginForm onSignedIn={onSignedIn} />);
    signIn();
    await waitFor(() => expect(onSignedIn).toHaveBeenCalledWith(USER));
    expect(screen.queryByTestId("second-factor")).toBeNull();
  });
});

describe("base64url", () => {
  it("round-trips bytes, padding and the URL-safe letters", () => {
    const bytes = new Uint8Array([0, 251, 255, 62, 63, 1, 2]);
    const text = toBase64url(bytes.buffer);
    expect(text).toBe("APv_Pj8BAg");
    expect(Array.from(new Uint8Array(fromBase64url(text)))).toEqual(Array.from(bytes));
  });
});
