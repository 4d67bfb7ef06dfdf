// The sign-in's second step (2단계 인증): the authenticator app's code, or a passkey, or a
// one-time recovery code, posted with the challenge the password step answered.
import { useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import type { SessionUser } from "../../api/session";
import { useT } from "../../i18n/I18nContext";
import { LoginAlert } from "./LoginAlert";
import { secondStep, type Challenge } from "../twofactor/twoFactorApi";
import { getAssertion, webauthnAvailable } from "../twofactor/webauthn";

type Mode = "totp" | "recovery";

export function SecondFactorStep({
  challenge,
  onSignedIn,
  onBack,
}: {
  challenge: Challenge;
  onSignedIn: (user: SessionUser) => void;
  onBack: () => void;
}) {
  const t = useT();
  const [mode, setMode] = useState<Mode>(challenge.methods.includes("totp") ? "totp" : "recovery");
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const send = async (answer: Parameters<typeof secondStep>[0]): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await secondStep(answer));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const answer = mode === "totp" ? { code: value.trim() } : { recovery_code: value.trim() };
    void send({ challenge: challenge.challenge, ...answer });
  };

  const usePasskey = async (): Promise<void> => {
    if (!challenge.passkey_options) return;
    let credential: Record<string, unknown>;
    try {
      credential = await getAssertion(challenge.passkey_options as Record<string, unknown>);
    } catch (err) {
      setError(new ApiError(0, "passkey", err instanceof Error ? err.message : String(err)));
      return;
    }
    await send({ challenge: challenge.challenge, credential });
  };

  const code = error instanceof ApiError ? error.code : "";
  const known =
    code === "wrong_code"
      ? t("twoFactor.error.wrong_code")
      : code === "passkey"
        ? t("twoFactor.error.passkey")
        : code === "challenge_expired"
          ? t("twoFactor.error.challenge_expired")
          : error instanceof ApiError && error.status === 429
            ? t("login.throttled")
            : null;

  return (
    <main className="login">
      <form onSubmit={submit} aria-labelledby="second-title" data-testid="second-factor">
        <h1 id="second-title">{t("login.secondTitle")}</h1>
        {mode === "totp" && <p className="help">{t("login.secondHelp")}</p>}
        <label>
          {mode === "totp" ? t("login.secondCode") : t("login.recoveryCode")}
          <input
            name="code"
            autoComplete="one-time-code"
            inputMode={mode === "totp" ? "numeric" : "text"}
            required
            autoFocus
            value={value}
            onChange={(e) => setValue(e.target.value)}
            data-testid="second-factor-code"
          />
        </label>
        <LoginAlert known={known} error={error} />
        <button type="submit" disabled={busy} data-testid="second-factor-submit">
          {t("login.secondSubmit")}
        </button>
        {challenge.methods.includes("passkey") && webauthnAvailable() && (
          <button type="button" disabled={busy} onClick={() => void usePasskey()} data-testid="use-passkey">
            {t("login.usePasskey")}
          </button>
        )}
        {mode === "totp" ? (
          <button type="button" className="link" onClick={() => setMode("recovery")} data-testid="use-recovery">
            {t("login.useRecovery")}
          </button>
        ) : (
          challenge.methods.includes("totp") && (
            <button type="button" className="link" onClick={() => setMode("totp")}>
              {t("login.useCode")}
            </button>
          )
        )}
        <button type="button" className="link" onClick={onBack}>
          {t("login.back")}
        </button>
      </form>
    </main>
  );
}
