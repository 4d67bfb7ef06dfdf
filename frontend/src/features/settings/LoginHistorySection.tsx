// 로그인 기록: this account's login attempts through every door (web, apps through the API,
// mail programs over SMTP, IMAP and POP3), newest first, with a "more" button that follows the
// server's cursor. Failed and blocked attempts stand out: they are what a user looks for.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import { formatFullDate } from "../../lib/formatDate";
import { listLoginHistory, type LoginRecord } from "./settingsApi";

const DOOR_KEYS: Readonly<Record<LoginRecord["door"], MessageKey>> = {
  web: "loginHistory.door.web",
  api: "loginHistory.door.api",
  smtp: "loginHistory.door.smtp",
  imap: "loginHistory.door.imap",
  pop3: "loginHistory.door.pop3",
  mail: "loginHistory.door.mail",
};

const RESULT_KEYS: Readonly<Record<LoginRecord["result"], MessageKey>> = {
  ok: "loginHistory.result.ok",
  failed: "loginHistory.result.failed",
  blocked: "loginHistory.result.blocked",
  partial: "loginHistory.result.partial",
};

// 2단계 인증's reasons and second steps (i18n/totpMessages.ts).
const REASON_KEYS: Readonly<Record<string, MessageKey>> = {
  app_password_required: "loginHistory.reason.app_password_required",
  wrong_totp: "loginHistory.reason.wrong_code",
  wrong_recovery: "loginHistory.reason.wrong_code",
  wrong_passkey: "loginHistory.reason.wrong_passkey",
};
const METHOD_KEYS: Readonly<Record<string, MessageKey>> = {
  totp: "loginHistory.method.totp",
  passkey: "loginHistory.method.passkey",
  recovery: "loginHistory.method.recovery",
};

export function LoginHistorySection() {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<LoginRecord[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    listLoginHistory(null, abort.signal).then(
      (page) => {
        setItems(page.items);
        setNext(page.next_cursor);
      },
      (err: unknown) => {
        if (!abort.signal.aborted) setError(err);
      },
    );
    return () => abort.abort();
  }, [attempt]);

  const more = (): void => {
    if (next === null) return;
    setBusy(true);
    listLoginHistory(next).then(
      (page) => {
        setBusy(false);
        setItems((old) => [...(old ?? []), ...page.items]);
        setNext(page.next_cursor);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  return (
    <section id="settings-login-history" className="settings-section" aria-labelledby="settings-login-history-title">
      <h2 id="settings-login-history-title">{t("loginHistory.title")}</h2>
      <p className="help">{t("loginHistory.help")}</p>
      {error !== null && <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      {items === null ? (
        error === null && <p className="loading">{t("loading")}</p>
      ) : items.length === 0 ? (
        <p className="empty">{t("loginHistory.empty")}</p>
      ) : (
        <table className="login-history" data-testid="login-history">
          <thead>
            <tr>
              <th scope="col">{t("loginHistory.when")}</th>
              <th scope="col">{t("loginHistory.door")}</th>
              <th scope="col">{t("loginHistory.ip")}</th>
              <th scope="col">{t("loginHistory.client")}</th>
              <th scope="col">{t("loginHistory.result")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} className={r.result === "ok" ? undefined : "login-failed"} data-testid={`login-${r.id}`}>
                <td>{formatFullDate(r.at, locale)}</td>
                <td>
                  {t(DOOR_KEYS[r.door])}
                  {r.method === "app_password" && <> · {t("loginHistory.appPassword")}</>}
                </td>
                <td>{r.ip}</td>
                <td className="login-client" title={r.client}>
                  {r.client}
                </td>
                <td>
                  {t(RESULT_KEYS[r.result])}
                  {r.reason in REASON_KEYS && <> · {t(REASON_KEYS[r.reason] as MessageKey)}</>}
                  {r.method in METHOD_KEYS && <> · {t(METHOD_KEYS[r.method] as MessageKey)}</>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next !== null && (
        <button type="button" onClick={more} disabled={busy} data-testid="login-history-more">
          {t("loginHistory.more")}
        </button>
      )}
    </section>
  );
}
