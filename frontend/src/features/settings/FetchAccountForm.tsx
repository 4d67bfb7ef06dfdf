// The add/edit form of an external account: the server tests the connection before it saves,
// and its refusal is shown in plain words with the server's own reply.
import { useState, type FormEvent } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import type { Folder } from "../../api/folders";
import { useT } from "../../i18n/I18nContext";
import {
  createExternalAccount,
  defaultPort,
  fetchErrorWords,
  PROTOCOLS,
  reasonOf,
  SECURITIES,
  updateExternalAccount,
  type ExternalAccount,
} from "./fetchApi";
import { ApiError } from "../../api/client";

interface Props {
  account: ExternalAccount | null; // null: a new one
  folders: readonly Folder[];
  onSaved: (saved: ExternalAccount) => void;
  onCancel: () => void;
}

export function FetchAccountForm({ account, folders, onSaved, onCancel }: Props) {
  const t = useT();
  const [protocol, setProtocol] = useState<ExternalAccount["protocol"]>(account?.protocol ?? "imap");
  const [security, setSecurity] = useState<ExternalAccount["security"]>(account?.security ?? "tls");
  const [host, setHost] = useState(account?.host ?? "");
  const [port, setPort] = useState(String(account?.port ?? defaultPort("imap", "tls")));
  const [portTouched, setPortTouched] = useState(account !== null);
  const [username, setUsername] = useState(account?.username ?? "");
  const [password, setPassword] = useState("");
  const [folderId, setFolderId] = useState<number | null>(account?.folder_id ?? null);
  const [keep, setKeep] = useState(account?.keep ?? true);
  const [minutes, setMinutes] = useState(String(account?.interval_minutes ?? 10));
  const [enabled, setEnabled] = useState(account?.enabled ?? true);
  const [selfSigned, setSelfSigned] = useState(account?.allow_self_signed ?? false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const choose = (nextProtocol: typeof protocol, nextSecurity: typeof security): void => {
    setProtocol(nextProtocol);
    setSecurity(nextSecurity);
    if (!portTouched) setPort(String(defaultPort(nextProtocol, nextSecurity)));
  };

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const fields = {
      protocol,
      security,
      host: host.trim(),
      port: Number(port),
      username: username.trim(),
      folder_id: folderId,
      keep,
      interval_minutes: Number(minutes),
      enabled,
      allow_self_signed: selfSigned,
    };
    setBusy(true);
    setError(null);
    const request =
      account === null
        ? createExternalAccount({ ...fields, password })
        : updateExternalAccount(account.id, password ? { ...fields, password } : fields);
    request.then(
      (saved) => {
        setBusy(false);
        onSaved(saved);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  const reason = reasonOf(error);
  const id = (name: string): string => `fetch-${name}`;
  return (
    <form onSubmit={submit} noValidate className="fetch-form" data-testid="fetch-form">
      <div className="field">
        <label htmlFor={id("protocol")}>{t("fetch.protocol")}</label>
        <select
          id={id("protocol")}
          value={protocol}
          onChange={(e) => choose(e.target.value as typeof protocol, security)}
          data-testid="fetch-protocol"
        >
          {PROTOCOLS.map((p) => (
            <option key={p} value={p}>
              {p.toUpperCase()}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={id("host")}>{t("fetch.host")}</label>
        <input
          id={id("host")}
          type="text"
          autoComplete="off"
          required
          value={host}
          onChange={(e) => setHost(e.target.value)}
          placeholder="imap.example.com"
          data-testid="fetch-host"
        />
      </div>
      <div className="field">
        <label htmlFor={id("security")}>{t("fetch.security")}</label>
        <select
          id={id("security")}
          value={security}
          onChange={(e) => choose(protocol, e.target.value as typeof security)}
          data-testid="fetch-security"
        >
          {SECURITIES.map((s) => (
            <option key={s} value={s}>
              {t(`fetch.security.${s}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={id("port")}>{t("fetch.port")}</label>
        <input
          id={id("port")}
          type="number"
          min={1}
          max={65535}
          value={port}
          onChange={(e) => {
            setPort(e.target.value);
            setPortTouched(true);
          }}
          data-testid="fetch-port"
        />
      </div>
      <div className="field">
        <label htmlFor={id("username")}>{t("fetch.username")}</label>
        <input
          id={id("username")}
          type="text"
          autoComplete="off"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          data-testid="fetch-username"
        />
      </div>
      <div className="field">
        <label htmlFor={id("password")}>{t("fetch.password")}</label>
        <input
          id={id("password")}
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-describedby={account ? id("password-help") : undefined}
          data-testid="fetch-password"
        />
        {account && (
          <span id={id("password-help")} className="help">
            {t("fetch.passwordKeep")}
          </span>
        )}
      </div>
      <div className="field">
        <label htmlFor={id("folder")}>{t("fetch.folder")}</label>
        <select
          id={id("folder")}
          value={folderId ?? ""}
          onChange={(e) => setFolderId(e.target.value ? Number(e.target.value) : null)}
          data-testid="fetch-folder"
        >
          <option value="">{t("folder.inbox")}</option>
          {folders
            .filter((f) => f.special_use !== "inbox")
            .map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={id("interval")}>{t("fetch.interval")}</label>
        <input
          id={id("interval")}
          type="number"
          min={1}
          max={1440}
          value={minutes}
          onChange={(e) => setMinutes(e.target.value)}
          data-testid="fetch-interval"
        />
      </div>
      <label className="check">
        <input type="checkbox" checked={keep} onChange={(e) => setKeep(e.target.checked)} data-testid="fetch-keep" />{" "}
        {t("fetch.keep")}
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={enabled}
          onChange={(e) => setEnabled(e.target.checked)}
          data-testid="fetch-enabled"
        />{" "}
        {t("fetch.enabled")}
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={selfSigned}
          onChange={(e) => setSelfSigned(e.target.checked)}
          data-testid="fetch-self-signed"
        />{" "}
        {t("fetch.allowSelfSigned")}
      </label>
      {busy && <p role="status">{t("fetch.testing")}</p>}
      {reason !== null && error instanceof ApiError ? (
        <div className="error" role="alert" data-testid="fetch-form-error">
          {fetchErrorWords(t, reason, error.detail)}
        </div>
      ) : (
        error !== null && <ErrorNotice error={error} />
      )}
      <div className="form-buttons">
        <button type="submit" disabled={busy} data-testid="fetch-save">
          {t("fetch.save")}
        </button>{" "}
        <button type="button" onClick={onCancel} data-testid="fetch-cancel">
          {t("fetch.cancel")}
        </button>
      </div>
    </form>
  );
}
