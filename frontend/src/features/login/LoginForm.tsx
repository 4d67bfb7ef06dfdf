// The sign-in screen: address and password → POST /api/v1/auth/session.
import { useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { signIn, type SessionUser } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";

export function LoginForm({ onSignedIn }: { onSignedIn: (user: SessionUser) => void }) {
  const t = useT();
  const [address, setAddress] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn({ address, password }));
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
        {known ? (
          <div className="error" role="alert">
            {known}
          </div>
        ) : error ? (
          <ErrorNotice error={error} />
        ) : null}
        <button type="submit" disabled={busy} data-testid="login-submit">
          {t("login.submit")}
        </button>
      </form>
    </main>
  );
}
