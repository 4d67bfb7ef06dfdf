// App passwords for IMAP/POP3/SMTP clients: list (name, created, last used), create (the
// secret is shown once, here, with a copy button), revoke after a confirmation.
import { useEffect, useState, type FormEvent } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { formatFullDate } from "../../lib/formatDate";
import { FieldError } from "./FieldError";
import { MobileconfigButton } from "./MobileconfigButton";
import { fieldErrors, isFieldError } from "./formErrors";
import {
  createAppPassword,
  listAppPasswords,
  revokeAppPassword,
  type AppPassword,
  type CreatedAppPassword,
} from "./settingsApi";

export const MAX_APP_PASSWORD_NAME = 100; // the server's limit

function NewSecret({ created, onDone }: { created: CreatedAppPassword; onDone: () => void }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  const copy = (): void => {
    const clipboard = globalThis.navigator?.clipboard;
    if (!clipboard) {
      setCopied("failed");
      return;
    }
    clipboard.writeText(created.password).then(
      () => setCopied("yes"),
      () => setCopied("failed"),
    );
  };
  return (
    <div className="new-secret" role="region" aria-label={t("settings.appPasswordCreated")} data-testid="new-app-password">
      <p>
        <strong>{t("settings.appPasswordCreatedFor", { name: created.name })}</strong>
      </p>
      <p className="warning">{t("settings.appPasswordOnce")}</p>
      <div className="secret-row">
        <input
          type="text"
          readOnly
          value={created.password}
          aria-label={t("settings.appPassword")}
          onFocus={(e) => e.target.select()}
          data-testid="app-password-secret"
        />
        <button type="button" onClick={copy} data-testid="app-password-copy">
          {t("settings.copy")}
        </button>
      </div>
      {copied === "yes" && <span role="status">{t("view.copied")}</span>}
      {copied === "failed" && <span role="status">{t("view.copyFailed")}</span>}
      <button type="button" onClick={onDone} data-testid="app-password-done">
        {t("settings.done")}
      </button>
    </div>
  );
}

export function AppPasswordsSection() {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<AppPassword[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [name, setName] = useState("");
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<CreatedAppPassword | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    setLoadError(null);
    listAppPasswords(abort.signal).then(setItems, (err: unknown) => {
      if (!abort.signal.aborted) setLoadError(err);
    });
    return () => abort.abort();
  }, [attempt]);

  const trimmed = name.trim();
  const nameErrors =
    submitted && !trimmed
      ? [t("settings.appPasswordNameMissing")]
      : trimmed.length > MAX_APP_PASSWORD_NAME
        ? [t("settings.tooLong", { max: MAX_APP_PASSWORD_NAME })]
        : fieldErrors(error, "name");

  const create = (event: FormEvent): void => {
    event.preventDefault();
    setSubmitted(true);
    if (!trimmed || trimmed.length > MAX_APP_PASSWORD_NAME) return;
    setBusy(true);
    setError(null);
    createAppPassword(trimmed).then(
      (made) => {
        setBusy(false);
        setSubmitted(false);
        setName("");
        setCreated(made);
        setItems((list) => [
          ...(list ?? []),
          { id: made.id, name: made.name, created_at: made.created_at, last_used_at: null, last_used_ip: null },
        ]);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  const revoke = (id: number): void => {
    setError(null);
    revokeAppPassword(id).then(
      () => {
        setConfirming(null);
        setItems((list) => list?.filter((p) => p.id !== id) ?? null);
        if (created?.id === id) setCreated(null);
      },
      (err: unknown) => {
        setConfirming(null);
        setError(err);
      },
    );
  };

  return (
    <section id="settings-app-passwords" className="settings-section" aria-labelledby="settings-app-passwords-title">
      <h2 id="settings-app-passwords-title">{t("settings.appPasswords")}</h2>
      <p className="help">{t("settings.appPasswordsHelp")}</p>
      <MobileconfigButton onCreated={() => setAttempt((n) => n + 1)} />
      {created && <NewSecret created={created} onDone={() => setCreated(null)} />}
      {loadError !== null && <ErrorNotice error={loadError} onRetry={() => setAttempt((n) => n + 1)} />}
      {items === null ? (
        loadError === null && <p className="loading">{t("loading")}</p>
      ) : items.length === 0 ? (
        <p className="empty">{t("settings.appPasswordsEmpty")}</p>
      ) : (
        <table className="app-passwords" data-testid="app-password-list">
          <thead>
            <tr>
              <th scope="col">{t("settings.appPasswordName")}</th>
              <th scope="col">{t("settings.created")}</th>
              <th scope="col">{t("settings.lastUsed")}</th>
              <th scope="col">
                <span className="visually-hidden">{t("settings.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((p) => (
              <tr key={p.id} data-testid={`app-password-${p.id}`}>
                <td>{p.name}</td>
                <td>{formatFullDate(p.created_at, locale)}</td>
                <td>
                  {p.last_used_at
                    ? `${formatFullDate(p.last_used_at, locale)}${p.last_used_ip ? ` (${p.last_used_ip})` : ""}`
                    : t("settings.neverUsed")}
                </td>
                <td>
                  {confirming === p.id ? (
                    <span className="confirm">
                      {t("settings.revokeConfirm")}{" "}
                      <button type="button" onClick={() => revoke(p.id)} data-testid={`app-password-revoke-yes-${p.id}`}>
                        {t("settings.revoke")}
                      </button>{" "}
                      <button type="button" onClick={() => setConfirming(null)}>
                        {t("settings.cancel")}
                      </button>
                    </span>
                  ) : (
                    <button
                      type="button"
                      onClick={() => setConfirming(p.id)}
                      aria-label={t("settings.revokeNamed", { name: p.name })}
                      data-testid={`app-password-revoke-${p.id}`}
                    >
                      {t("settings.revoke")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={create} noValidate className="inline-form">
        <div className="field">
          <label htmlFor="app-password-name">{t("settings.appPasswordName")}</label>
          <input
            id="app-password-name"
            type="text"
            autoComplete="off"
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              setError(null);
            }}
            placeholder={t("settings.appPasswordNamePlaceholder")}
            aria-invalid={nameErrors.length > 0}
            aria-describedby="app-password-name-error"
            data-testid="app-password-name"
          />
          <FieldError id="app-password-name-error" messages={nameErrors} />
        </div>
        <button type="submit" disabled={busy} data-testid="app-password-create">
          {t("settings.createAppPassword")}
        </button>
      </form>
      {error !== null && !isFieldError(error, ["name"]) && <ErrorNotice error={error} />}
    </section>
  );
}
