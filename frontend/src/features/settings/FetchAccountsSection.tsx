// "External mail" (issue 11 §7–9, Naver's 외부 메일 가져오기): each external POP3/IMAP account
// with its last run, how many came in and the last error in plain words; add, edit, delete,
// fetch now. After "fetch now" (or while a run is going) the list is read again every few
// seconds until the run's outcome is there.
import { useEffect, useState } from "react";
import { listFolders, type Folder } from "../../api/folders";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import { formatFullDate } from "../../lib/formatDate";
import { FetchAccountForm } from "./FetchAccountForm";
import {
  deleteExternalAccount,
  fetchErrorWords,
  listExternalAccounts,
  requestFetch,
  type ExternalAccount,
} from "./fetchApi";

const POLL_MS = 2000;
const POLL_LIMIT = 45; // about a minute and a half, then the user can reload

export function FetchAccountsSection() {
  const { t, locale } = useI18n();
  const [items, setItems] = useState<ExternalAccount[] | null>(null);
  const [folders, setFolders] = useState<Folder[]>([]);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [editing, setEditing] = useState<ExternalAccount | "new" | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);
  // Accounts whose run was requested here, with their last_run_at at the time.
  const [waiting, setWaiting] = useState<Record<number, string | null>>({});
  const [polls, setPolls] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    setLoadError(null);
    listExternalAccounts(abort.signal).then(setItems, (err: unknown) => {
      if (!abort.signal.aborted) setLoadError(err);
    });
    listFolders(abort.signal).then(
      (list) => setFolders(list.results),
      () => undefined, // the form then offers the INBOX only
    );
    return () => abort.abort();
  }, [attempt]);

  const pending =
    items?.some((a) => a.running || (a.id in waiting && a.last_run_at === waiting[a.id])) ?? false;
  useEffect(() => {
    if (!pending || polls >= POLL_LIMIT) return;
    const timer = window.setTimeout(() => {
      listExternalAccounts().then(
        (list) => {
          setItems(list);
          setPolls((n) => n + 1);
        },
        () => setPolls((n) => n + 1),
      );
    }, POLL_MS);
    return () => window.clearTimeout(timer);
  }, [pending, polls]);

  const fetchNow = (account: ExternalAccount): void => {
    setError(null);
    requestFetch(account.id).then(
      () => {
        setWaiting((w) => ({ ...w, [account.id]: account.last_run_at }));
        setPolls(0);
      },
      (err: unknown) => setError(err),
    );
  };

  const remove = (id: number): void => {
    setError(null);
    deleteExternalAccount(id).then(
      () => {
        setConfirming(null);
        setItems((list) => list?.filter((a) => a.id !== id) ?? null);
      },
      (err: unknown) => {
        setConfirming(null);
        setError(err);
      },
    );
  };

  const saved = (account: ExternalAccount): void => {
    setEditing(null);
    setItems((list) => {
      const rest = (list ?? []).filter((a) => a.id !== account.id);
      return [...rest, account].sort((a, b) => a.id - b.id);
    });
    // A new account's first run is queued by the server: watch for its outcome.
    setWaiting((w) => ({ ...w, [account.id]: account.last_run_at }));
    setPolls(0);
  };

  const status = (a: ExternalAccount): string => {
    if (a.running || (a.id in waiting && a.last_run_at === waiting[a.id])) return t("fetch.running");
    if (a.last_error_code) return fetchErrorWords(t, a.last_error_code, a.last_error_detail);
    if (!a.enabled) return t("fetch.off");
    return a.last_run_at ? t("fetch.ok") : t("fetch.never");
  };

  const name = (a: ExternalAccount): string => `${a.username}@${a.host}`;

  return (
    <section id="settings-fetch" className="settings-section" aria-labelledby="settings-fetch-title">
      <h2 id="settings-fetch-title">{t("settings.fetch")}</h2>
      <p className="help">{t("fetch.help")}</p>
      {loadError !== null && <ErrorNotice error={loadError} onRetry={() => setAttempt((n) => n + 1)} />}
      {items === null ? (
        loadError === null && <p className="loading">{t("loading")}</p>
      ) : items.length === 0 ? (
        <p className="empty">{t("fetch.empty")}</p>
      ) : (
        <table className="fetch-accounts" data-testid="fetch-list">
          <thead>
            <tr>
              <th scope="col">{t("fetch.account")}</th>
              <th scope="col">{t("fetch.lastRun")}</th>
              <th scope="col">{t("fetch.status")}</th>
              <th scope="col">
                <span className="visually-hidden">{t("settings.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-testid={`fetch-account-${a.id}`}>
                <td>
                  {name(a)} ({a.protocol.toUpperCase()}, {a.keep ? t("fetch.kept") : t("fetch.deleted")})
                </td>
                <td data-testid={`fetch-last-run-${a.id}`}>
                  {a.last_run_at ? formatFullDate(a.last_run_at, locale) : t("fetch.never")}
                  {a.last_run_at && (
                    <>
                      <br />
                      {t("fetch.cameIn", { count: a.last_fetched, total: a.total_fetched })}
                    </>
                  )}
                </td>
                <td data-testid={`fetch-status-${a.id}`}>{status(a)}</td>
                <td className="actions">
                  {confirming === a.id ? (
                    <span className="confirm">
                      {t("fetch.deleteConfirm")}{" "}
                      <button type="button" onClick={() => remove(a.id)} data-testid={`fetch-delete-yes-${a.id}`}>
                        {t("fetch.delete")}
                      </button>{" "}
                      <button type="button" onClick={() => setConfirming(null)}>
                        {t("fetch.cancel")}
                      </button>
                    </span>
                  ) : (
                    <>
                      <button
                        type="button"
                        onClick={() => fetchNow(a)}
                        disabled={!a.enabled}
                        aria-label={t("fetch.nowNamed", { name: name(a) })}
                        data-testid={`fetch-now-${a.id}`}
                      >
                        {t("fetch.now")}
                      </button>{" "}
                      <button
                        type="button"
                        onClick={() => setEditing(a)}
                        aria-label={t("fetch.editNamed", { name: name(a) })}
                        data-testid={`fetch-edit-${a.id}`}
                      >
                        {t("fetch.edit")}
                      </button>{" "}
                      <button
                        type="button"
                        onClick={() => setConfirming(a.id)}
                        aria-label={t("fetch.deleteNamed", { name: name(a) })}
                        data-testid={`fetch-delete-${a.id}`}
                      >
                        {t("fetch.delete")}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error !== null && <ErrorNotice error={error} />}
      {editing !== null ? (
        <FetchAccountForm
          key={editing === "new" ? "new" : editing.id}
          account={editing === "new" ? null : editing}
          folders={folders}
          onSaved={saved}
          onCancel={() => setEditing(null)}
        />
      ) : (
        <button type="button" onClick={() => setEditing("new")} data-testid="fetch-add">
          {t("fetch.add")}
        </button>
      )}
    </section>
  );
}
