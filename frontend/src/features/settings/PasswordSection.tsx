// Changing the password: current, new, confirm. The server revokes the user's other sessions
// and API tokens; this one stays signed in.
import { useEffect, useState, type FormEvent } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { en, type MessageKey } from "../../i18n/messages";

function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}
import { FieldError } from "./FieldError";
import { fieldErrorCodes, fieldErrors, isFieldError } from "./formErrors";
import { MIN_PASSWORD_LENGTH, checkPasswordForm, type PasswordProblem } from "./passwordCheck";
import { changePassword, getPasswordPolicy } from "./settingsApi";

const MAX_PASSWORD_LENGTH = 1024;

/** The server's refusals of a new password in the user's language, by their codes; a code
 * this version does not know shows the server's own text. */
function policyErrors(
  t: ReturnType<typeof useT>,
  error: unknown,
  min: number,
): string[] {
  const texts = fieldErrors(error, "new_password");
  const codes = fieldErrorCodes(error, "new_password");
  return texts.map((text, i) => {
    const key = `password.policy.${codes[i] ?? ""}`;
    return isMessageKey(key) ? t(key, { min, max: MAX_PASSWORD_LENGTH }) : text;
  });
}

const PROBLEM_KEYS: Readonly<Record<PasswordProblem, MessageKey>> = {
  currentMissing: "settings.password.currentMissing",
  newMissing: "settings.password.newMissing",
  tooShort: "settings.password.tooShort",
  mismatch: "settings.password.mismatch",
  sameAsCurrent: "settings.password.same",
};

export function PasswordSection() {
  const t = useT();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [minLength, setMinLength] = useState(MIN_PASSWORD_LENGTH);

  useEffect(() => {
    const abort = new AbortController();
    getPasswordPolicy(abort.signal).then(
      (policy) => setMinLength(policy.min_length),
      () => undefined, // the server still checks; the form keeps the default until then
    );
    return () => abort.abort();
  }, []);

  const problems = checkPasswordForm({ current, next, confirm }, minLength);
  const show = (field: "current" | "next" | "confirm", server: string[]): string[] => {
    const problem = submitted ? problems[field] : undefined;
    return problem ? [t(PROBLEM_KEYS[problem], { min: minLength })] : server;
  };
  const currentErrors = show("current", fieldErrors(error, "current_password"));
  const newErrors = show("next", policyErrors(t, error, minLength));
  const confirmErrors = show("confirm", []);

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setSubmitted(true);
    setDone(false);
    if (Object.keys(problems).length > 0) return;
    setBusy(true);
    setError(null);
    changePassword(current, next).then(
      () => {
        setBusy(false);
        setDone(true);
        setSubmitted(false);
        setCurrent("");
        setNext("");
        setConfirm("");
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  const input = (
    id: string,
    label: string,
    value: string,
    set: (v: string) => void,
    errors: string[],
    autoComplete: string,
  ) => (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="password"
        autoComplete={autoComplete}
        value={value}
        onChange={(e) => {
          set(e.target.value);
          setError(null);
          setDone(false);
        }}
        aria-invalid={errors.length > 0}
        aria-describedby={`${id}-error`}
        data-testid={id}
      />
      <FieldError id={`${id}-error`} messages={errors} />
    </div>
  );

  return (
    <section id="settings-password" className="settings-section" aria-labelledby="settings-password-title">
      <h2 id="settings-password-title">{t("settings.password")}</h2>
      <form onSubmit={submit} noValidate>
        {input("password-current", t("settings.currentPassword"), current, setCurrent, currentErrors, "current-password")}
        {input("password-new", t("settings.newPassword"), next, setNext, newErrors, "new-password")}
        {input("password-confirm", t("settings.confirmPassword"), confirm, setConfirm, confirmErrors, "new-password")}
        {error !== null && !isFieldError(error, ["current_password", "new_password"]) && <ErrorNotice error={error} />}
        <div className="form-actions">
          <button type="submit" disabled={busy} data-testid="password-submit">
            {t("settings.changePassword")}
          </button>
          {done && <span role="status">{t("settings.passwordChanged")}</span>}
        </div>
      </form>
    </section>
  );
}
