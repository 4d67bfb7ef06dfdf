// The sign-in screen: address and password → POST /api/v1/auth/session; with 2단계 인증 on,
// its 202 challenge leads to the second step (SecondFactorStep).
import { useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { signIn, type SessionUser } from "../../api/session";
import { useT } from "../../i18n/I18nContext";
import { LoginAlert } from "./LoginAlert";
import { isChallenge, type Challenge } from "../twofactor/twoFactorApi";
import { SecondFactorStep } from "./SecondFactorStep";

export function LoginForm({ onSignedIn }: { onSignedIn: (user: SessionUser) => void }) {
  const t = useT();
  const [address, setAddress] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [challenge, setChallenge] = useState<Challenge | null>(null);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer: unknown = await signIn({ address, password });
      if (isChallenge(answer)) {
        setPassword("");
        setBusy(false);
        setChallenge(answer);
        return;
      }
      onSignedIn(answer as SessionUser);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const known =
    error instanceof ApiError && error.code === "invalid_credentials"
      ? t("login.failed")
      : error instanceof ApiError && error.status === 429
        ? t("login.throttled")
        : null;

  if (challenge !== null) {
    return <SecondFactorStep challenge={challenge} onSignedIn={onSignedIn} onBack={() => setChallenge(null)} />;
  }

  return (
    <main className="login">
      <form onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">{t("login.title")}</h1>
        <label>
          {t("login.address")}
          <input
            type="email"
            name="address"
            autoComplete="username"
            required
            value={address}
            onChange={(e) => setAddress(e.target.value)}
            data-testid="login-address"
          />
        </label>
        <label>
          {t("login.password")}
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="login-password"
          />
        </label>
        <LoginAlert known={known} error={error} />
        <button type="submit" disabled={busy} data-testid="login-submit">
          {t("login.submit")}
        </button>
      </form>
    </main>
  );
}
