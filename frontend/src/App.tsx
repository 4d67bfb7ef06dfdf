// Who is signed in decides the screen: the login form or the mail layout.
import { useEffect, useState } from "react";
import { getSession, signOut, type SessionUser } from "./api/session";
import { ErrorNotice } from "./components/ErrorNotice";
import { LoginForm } from "./features/login/LoginForm";
import { MailLayout } from "./features/layout/MailLayout";
import { TwoFactorSection } from "./features/settings/TwoFactorSection";
import { useT } from "./i18n/I18nContext";

type State = { kind: "loading" } | { kind: "error"; error: unknown } | { kind: "out" } | { kind: "in"; user: SessionUser };

export function App() {
  const t = useT();
  const [state, setState] = useState<State>({ kind: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    // Also fetches the CSRF cookie that the sign-in POST needs.
    getSession(abort.signal).then(
      (user) => setState(user ? { kind: "in", user } : { kind: "out" }),
      (error: unknown) => {
        if (!abort.signal.aborted) setState({ kind: "error", error });
      },
    );
    return () => abort.abort();
  }, [attempt]);

  const onSignOut = (): void => {
    signOut().then(
      () => {
        window.history.replaceState(null, "", "/");
        setState({ kind: "out" });
        // Django rotates the CSRF token on logout: fetch a fresh cookie for the next sign-in.
        setAttempt((n) => n + 1);
      },
      (error: unknown) => setState({ kind: "error", error }),
    );
  };

  switch (state.kind) {
    case "loading":
      return <p className="loading">{t("loading")}</p>;
    case "error":
      return <ErrorNotice error={state.error} onRetry={() => setAttempt((n) => n + 1)} />;
    case "out":
      return <LoginForm onSignedIn={(user) => setState({ kind: "in", user })} />;
    case "in":
      // A domain that requires 2단계 인증: enrol first (the API refuses mail until then).
      if (state.user.second_factor_enrolment_required) {
        return (
          <main className="settings-view enrol-second-factor" data-testid="enrol-second-factor">
            <TwoFactorSection onEnrolled={() => setAttempt((n) => n + 1)} />
            <button type="button" onClick={onSignOut}>
              {t("header.signOut")}
            </button>
          </main>
        );
      }
      return <MailLayout user={state.user} onSignOut={onSignOut} />;
  }
}
