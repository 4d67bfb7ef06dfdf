// Settings → 2단계 인증: the authenticator app (QR code + first code), passkeys (add, rename,
// remove), recovery codes (shown once; regenerate), turning it all off (password + code), and
// the reminder that mail programs then need app passwords.
import { useEffect, useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { formatFullDate } from "../../lib/formatDate";
import * as api from "../twofactor/twoFactorApi";
import { createPasskey, webauthnAvailable } from "../twofactor/webauthn";

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useI18n();
  return (
    <div className="new-secret" data-testid="recovery-codes">
      <p className="warning">{t("twoFactor.recoveryHelp")}</p>
      <ol className="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <button type="button" onClick={onDone} data-testid="recovery-codes-done">
        {t("twoFactor.recoveryDone")}
      </button>
    </div>
  );
}

function TotpSetup({ onCodes }: { onCodes: (codes: string[]) => void }) {
  const { t } = useI18n();
  const [enrolment, setEnrolment] = useState<api.TotpEnrolment | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const start = (): void => {
    setError(null);
    api.startTotp().then(setEnrolment, setError);
  };
  const confirm = (e: FormEvent): void => {
    e.preventDefault();
    setError(null);
    api.confirmTotp(code.trim()).then((r) => onCodes(r.recovery_codes), setError);
  };
  if (enrolment === null) {
    return (
      <>
        <button type="button" onClick={start} data-testid="totp-start">
          {t("twoFactor.appSetUp")}
        </button>
        {error !== null && <ErrorNotice error={error} />}
      </>
    );
  }
  return (
    <form onSubmit={confirm} data-testid="totp-enrol">
      <p>{t("twoFactor.appScan")}</p>
      {/* The server draws the SVG (segno); shown as an image, never as markup: an <img>
          runs no script and loads nothing, whatever the SVG holds. */}
      <img
        className="totp-qr"
        src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`}
        alt={t("twoFactor.appScan")}
        width={200}
        height={200}
      />
      <p>
        <code data-testid="totp-secret">{enrolment.secret}</code>
      </p>
      <label>
        {t("twoFactor.appCode")}
        <input
          inputMode="numeric"
          autoComplete="one-time-code"
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
          data-testid="totp-code"
        />
      </label>
      <button type="submit" data-testid="totp-confirm">
        {t("twoFactor.appConfirm")}
      </button>
      {error instanceof ApiError && error.code === "wrong_code" ? (
        <div className="error" role="alert">
          {t("twoFactor.error.wrong_code")}
        </div>
      ) : (
        error !== null && <ErrorNotice error={error} />
      )}
    </form>
  );
}

function PasskeyRow({ passkey, onChanged }: { passkey: api.Passkey; onChanged: () => void }) {
  const { t, locale } = useI18n();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(passkey.name);
  const [error, setError] = useState<unknown>(null);
  const save = (e: FormEvent): void => {
    e.preventDefault();
    api.renamePasskey(passkey.id, name).then(() => {
      setEditing(false);
      onChanged();
    }, setError);
  };
  return (
    <li data-testid={`passkey-${passkey.id}`}>
      {editing ? (
        <form onSubmit={save}>
          <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} data-testid="passkey-rename-input" />
          <button type="submit">{t("twoFactor.passkeySave")}</button>
        </form>
      ) : (
        <span>
          <strong>{passkey.name}</strong> ·{" "}
          {passkey.last_used_at
            ? t("twoFactor.lastUsed", { when: formatFullDate(passkey.last_used_at, locale) })
            : t("twoFactor.neverUsed")}
        </span>
      )}
      {!editing && (
        <button type="button" onClick={() => setEditing(true)}>
          {t("twoFactor.passkeyRename")}
        </button>
      )}
      <Confirmed
        label={t("twoFactor.passkeyRemove")}
        withCode={false}
        testId={`passkey-remove-${passkey.id}`}
        onConfirm={(password) => api.removePasskey(passkey.id, password).then(onChanged)}
      />
      {error !== null && <ErrorNotice error={error} />}
    </li>
  );
}

function AddPasskey({ onAdded }: { onAdded: (codes: string[]) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  if (!webauthnAvailable()) return <p className="help">{t("twoFactor.passkeyUnsupported")}</p>;
  const add = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      const { options, state } = await api.passkeyOptions();
      const credential = await createPasskey(options as Record<string, unknown>);
      const added = await api.addPasskey({ name, state, credential });
      setName("");
      onAdded(added.recovery_codes);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={(e) => void add(e)}>
      <label>
        {t("twoFactor.passkeyName")}
        <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} data-testid="passkey-name" />
      </label>
      <button type="submit" data-testid="passkey-add">
        {t("twoFactor.passkeyAdd")}
      </button>
      {error !== null && <ErrorNotice error={error} />}
    </form>
  );
}

/** A password (and optionally a code) asked before something that could lock the owner out. */
function Confirmed({
  label,
  withCode,
  onConfirm,
  testId,
}: {
  label: string;
  withCode: boolean;
  onConfirm: (password: string, code: string) => Promise<unknown>;
  testId: string;
}) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)} data-testid={testId}>
        {label}
      </button>
    );
  }
  const go = (e: FormEvent): void => {
    e.preventDefault();
    setError(null);
    onConfirm(password, code).then(() => setOpen(false), setError);
  };
  return (
    <form onSubmit={go} className="confirm">
      <label>
        {t("twoFactor.password")}
        <input type="password" required value={password} onChange={(e) => setPassword(e.target.value)} data-testid={`${testId}-password`} />
      </label>
      {withCode && (
        <label>
          {t("twoFactor.turnOffCode")}
          <input required value={code} onChange={(e) => setCode(e.target.value)} data-testid={`${testId}-code`} />
        </label>
      )}
      <button type="submit" data-testid={`${testId}-yes`}>
        {label}
      </button>{" "}
      <button type="button" onClick={() => setOpen(false)}>
        {t("twoFactor.cancel")}
      </button>
      {error instanceof ApiError && error.code === "domain_requires_second_factor" ? (
        <div className="error" role="alert">
          {t("twoFactor.error.domain")}
        </div>
      ) : (
        error !== null && <ErrorNotice error={error} />
      )}
    </form>
  );
}

export function TwoFactorSection({ onEnrolled }: { onEnrolled?: () => void }) {
  const { t } = useI18n();
  const [status, setStatus] = useState<api.TwoFactorStatus | null>(null);
  const [codes, setCodes] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    api.getStatus().then(setStatus, setError);
  }, [attempt]);
  const reload = (): void => setAttempt((n) => n + 1);
  const gotCodes = (fresh: string[]): void => {
    setCodes(fresh);
    reload();
  };

  return (
    <section id="settings-two-factor" className="settings-section" aria-labelledby="settings-two-factor-title">
      <h2 id="settings-two-factor-title">{t("twoFactor.title")}</h2>
      <p className="help">{t("twoFactor.help")}</p>
      {error !== null && <ErrorNotice error={error} />}
      {status !== null && (
        <>
          <p data-testid="two-factor-state">
            <strong>{status.on ? t("twoFactor.on") : t("twoFactor.off")}</strong>
            {status.required_by_domain && <> · {t("twoFactor.requiredByDomain")}</>}
          </p>
          {status.enrolment_required && !status.on && <p className="warning">{t("twoFactor.enrolFirst")}</p>}
          {codes.length > 0 && <RecoveryCodes codes={codes} onDone={() => setCodes([])} />}
          {status.on && codes.length === 0 && onEnrolled && (
            <button type="button" onClick={onEnrolled} data-testid="two-factor-continue">
              {t("twoFactor.continue")}
            </button>
          )}
          <p className="help" data-testid="two-factor-mail-apps">
            {t("twoFactor.mailApps")} <a href="/settings/app-passwords">{t("twoFactor.makeAppPassword")}</a>
          </p>
          <h3>{t("twoFactor.app")}</h3>
          {status.totp ? (
            <>
              <p>{t("twoFactor.appOn")}</p>
              <Confirmed
                label={t("twoFactor.appRemove")}
                withCode={false}
                testId="totp-remove"
                onConfirm={(password) => api.removeTotp(password).then(setStatus)}
              />
            </>
          ) : (
            <TotpSetup onCodes={gotCodes} />
          )}
          <h3>{t("twoFactor.passkeys")}</h3>
          {status.passkeys.length === 0 ? (
            <p>{t("twoFactor.passkeyNone")}</p>
          ) : (
            <ul className="passkeys" data-testid="passkeys">
              {status.passkeys.map((p) => (
                <PasskeyRow key={p.id} passkey={p} onChanged={reload} />
              ))}
            </ul>
          )}
          <AddPasskey onAdded={gotCodes} />
          {status.on && (
            <>
              <h3>{t("twoFactor.recovery")}</h3>
              <p>{t("twoFactor.recoveryLeft", { count: String(status.recovery_codes_left) })}</p>
              <Confirmed
                label={t("twoFactor.recoveryRegenerate")}
                withCode={false}
                testId="recovery-regenerate"
                onConfirm={(password) => api.regenerateCodes(password).then((r) => gotCodes(r.recovery_codes))}
              />
              <p />
              <Confirmed
                label={t("twoFactor.turnOff")}
                withCode
                testId="two-factor-off"
                onConfirm={(password, code) => api.turnOff(password, code).then(setStatus)}
              />
            </>
          )}
        </>
      )}
    </section>
  );
}
