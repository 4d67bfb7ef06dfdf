// Calls of Settings → 2단계 인증 and the sign-in's second step (types from the OpenAPI schema).
import { apiFetch, type Schemas } from "../../api/client";
import type { SessionUser } from "../../api/session";

export type Challenge = Schemas["SecondFactorChallenge"];
export type TwoFactorStatus = Schemas["TwoFactorStatus"];
export type TotpEnrolment = Schemas["TotpEnrolment"];
export type Passkey = Schemas["Passkey"];
export type PasskeyOptions = Schemas["PasskeyOptions"];

const BASE = "/api/v1/settings/two-factor";

export function isChallenge(answer: unknown): answer is Challenge {
  return typeof answer === "object" && answer !== null && "second_factor_required" in answer;
}

export function secondStep(body: {
  challenge: string;
  code?: string;
  recovery_code?: string;
  credential?: Record<string, unknown>;
}): Promise<SessionUser> {
  return apiFetch("POST", "/api/v1/auth/session/second-factor", { body });
}

export const getStatus = (): Promise<TwoFactorStatus> => apiFetch("GET", BASE);
export const startTotp = (): Promise<TotpEnrolment> => apiFetch("POST", `${BASE}/totp`);
export const confirmTotp = (code: string): Promise<{ recovery_codes: string[] }> =>
  apiFetch("PUT", `${BASE}/totp`, { body: { code } });
export const removeTotp = (password: string): Promise<TwoFactorStatus> =>
  apiFetch("DELETE", `${BASE}/totp`, { body: { password } });
export const passkeyOptions = (): Promise<PasskeyOptions> => apiFetch("POST", `${BASE}/passkey-options`);
export const addPasskey = (body: {
  name: string;
  state: string;
  credential: Record<string, unknown>;
}): Promise<{ passkey: Passkey; recovery_codes: string[] }> => apiFetch("POST", `${BASE}/passkeys`, { body });
export const renamePasskey = (id: number, name: string): Promise<Passkey> =>
  apiFetch("PATCH", `${BASE}/passkeys/${id}`, { body: { name } });
export const removePasskey = (id: number, password: string): Promise<TwoFactorStatus> =>
  apiFetch("DELETE", `${BASE}/passkeys/${id}`, { body: { password } });
export const regenerateCodes = (password: string): Promise<{ recovery_codes: string[] }> =>
  apiFetch("POST", `${BASE}/recovery-codes`, { body: { password } });
export const turnOff = (password: string, code: string): Promise<TwoFactorStatus> =>
  apiFetch("DELETE", BASE, { body: { password, code } });
