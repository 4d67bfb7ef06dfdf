// Pieces every console page shares: loading a resource, paging a list, errors in words,
// the confirm dialog, a copyable box, status notes and number/date formats.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../../api/client";
import { ConfirmDialog } from "../../components/Dialog";
import type { Locale } from "../../i18n/messages";
import type { Page, Query } from "./adminApi";
import { adminDictionaries, useAdminT, type AdminKey, type AdminT } from "./adminMessages";
import { inZone } from "../../lib/timeZone";

/** The words for a refusal's stable code (issue 12 defect 5): never the server's English. */
export function codeText(t: AdminT, code: string): string {
  const key = `code.${code}`;
  return key in adminDictionaries.en ? t(key as AdminKey) : t("code.other", { code });
}

/** A DNS check's reason code in words; "" when it has none. */
export function dnsReasonText(t: AdminT, reason: string): string {
  if (!reason) return "";
  const key = `dns.${reason}`;
  return key in adminDictionaries.en ? t(key as AdminKey) : t("dns.other");
}

/** What went wrong, in words the admin can act on, in the admin's language: the API's
 * stable codes are translated; the server's English details stay in its log. */
export function errorText(t: AdminT, error: unknown): string {
  if (!(error instanceof ApiError)) return t("err.other", { detail: String(error) });
  const detail = error.detail || error.code;
  if (error.code === "network") return t("err.network");
  if (error.status === 404) return t("err.notFound");
  if (error.status === 403) return t("err.forbidden");
  if (error.status === 409) return codeText(t, error.code);
  if (error.status === 400) {
    const fields = Object.entries(error.fields)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : String(v)}`)
      .join("; ");
    return t("err.invalid", { detail: fields || detail });
  }
  return t("err.other", { detail });
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useAdminT();
  return (
    <div className="error admin-error" role="alert">
      <span>{errorText(t, error)}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t("a.retry")}
        </button>
      )}
    </div>
  );
}

export function Loading() {
  const { t } = useAdminT();
  return (
    <p className="loading" role="status">
      {t("a.loading")}
    </p>
  );
}

export function NotFound() {
  const { t } = useAdminT();
  return (
    <section className="admin-page" aria-labelledby="admin-not-found">
      <h1 id="admin-not-found">{t("a.notFound")}</h1>
      <p>{t("a.notFoundText")}</p>
    </section>
  );
}

/** A short "done" note read out by screen readers. */
export function Note({ text }: { text: string }) {
  if (!text) return null;
  return (
    <p className="admin-note" role="status">
      {text}
    </p>
  );
}

export function FieldError({ id, text }: { id: string; text: string | null }) {
  if (!text) return null;
  return (
    <span className="field-error" id={id} role="alert">
      {text}
    </span>
  );
}

interface Load<T> {
  data: T | null;
  error: unknown;
  reload: () => void;
  set: (data: T) => void;
}

/** Loads once per `key` change; stale answers (after a newer key) are dropped. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Load<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    loadRef.current(abort.signal).then(
      (d) => {
        if (!abort.signal.aborted) setData(d);
      },
      (err: unknown) => {
        if (!abort.signal.aborted) setError(err);
      },
    );
    return () => abort.abort();
  }, [key, attempt]);
  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  return { data, error, reload, set: setData };
}

interface Paged<T> {
  items: T[] | null;
  error: unknown;
  more: boolean;
  loadingMore: boolean;
  loadMore: () => void;
  reload: () => void;
}

/** A keyset-paged list ({items, next_cursor}) for one set of filters. */
export function usePaged<T>(fetchPage: (query: Query, signal?: AbortSignal) => Promise<Page<T>>, filters: Query): Paged<T> {
  const key = JSON.stringify(filters);
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const generation = useRef(0);
  useEffect(() => {
    const abort = new AbortController();
    const gen = ++generation.current;
    setError(null);
    fetchRef.current(JSON.parse(key) as Query, abort.signal).then(
      (page) => {
        if (gen !== generation.current) return;
        setItems(page.items);
        setCursor(page.next_cursor);
      },
      (err: unknown) => {
        if (gen === generation.current && !abort.signal.aborted) setError(err);
      },
    );
    return () => abort.abort();
  }, [key, attempt]);
  const loadMore = useCallback(() => {
    if (cursor === null) return;
    const gen = generation.current;
    setLoadingMore(true);
    fetchRef.current({ ...(JSON.parse(key) as Query), cursor }).then(
      (page) => {
        if (gen !== generation.current) return;
        setItems((old) => [...(old ?? []), ...page.items]);
        setCursor(page.next_cursor);
        setLoadingMore(false);
      },
      (err: unknown) => {
        setLoadingMore(false);
        if (gen === generation.current) setError(err);
      },
    );
  }, [cursor, key]);
  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  return { items, error, more: cursor !== null, loadingMore, loadMore, reload };
}

export function LoadMore({ paged }: { paged: { more: boolean; loadingMore: boolean; loadMore: () => void } }) {
  const { t } = useAdminT();
  if (!paged.more) return null;
  return (
    <button type="button" className="admin-more" onClick={paged.loadMore} disabled={paged.loadingMore}>
      {paged.loadingMore ? t("a.loading") : t("a.loadMore")}
    </button>
  );
}

export interface Confirmation {
  title: string;
  text: string;
  ok: string;
  run: () => void;
}

/** The pending "are you sure?" of a page, or nothing. */
export function Confirm({ value, onClose }: { value: Confirmation | null; onClose: () => void }) {
  const { t } = useAdminT();
  if (value === null) return null;
  return (
    <ConfirmDialog
      title={value.title}
      text={value.text}
      confirmLabel={value.ok}
      cancelLabel={t("a.cancel")}
      onCancel={onClose}
      onConfirm={() => {
        onClose();
        value.run();
      }}
    />
  );
}

/** A read-only value with a Copy button (DNS records, generated passwords). */
export function CopyBox({ label, value, multiline = false }: { label: string; value: string; multiline?: boolean }) {
  const { t } = useAdminT();
  const [note, setNote] = useState("");
  const copy = (): void => {
    const clip = globalThis.navigator?.clipboard;
    if (!clip) {
      setNote(t("a.copyFailed"));
      return;
    }
    clip.writeText(value).then(
      () => setNote(t("a.copied")),
      () => setNote(t("a.copyFailed")),
    );
  };
  return (
    <div className="copy-box">
      {multiline ? (
        <textarea readOnly value={value} aria-label={label} rows={4} onFocus={(e) => e.currentTarget.select()} />
      ) : (
        <input readOnly value={value} aria-label={label} onFocus={(e) => e.currentTarget.select()} />
      )}
      <button type="button" onClick={copy} aria-label={`${t("a.copy")}: ${label}`}>
        {t("a.copy")}
      </button>
      {note && <span role="status">{note}</span>}
    </div>
  );
}

/** Runs one change at a time: busy flag, error and a done note. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState("");
  const run = useCallback(async <T,>(action: () => Promise<T>, done?: (result: T) => string | void): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    setNote("");
    try {
      const result = await action();
      const text = done?.(result);
      if (typeof text === "string") setNote(text);
      return result;
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, note, setError, setNote, run };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatWhen(iso: string | null, locale: Locale, never: string, short = false): string {
  if (!iso) return never;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale === "ko" ? "ko-KR" : "en-US", inZone({ dateStyle: short ? "short" : "medium", timeStyle: "short" })).format(d);
}

export function Empty({ k }: { k: AdminKey }) {
  const { t } = useAdminT();
  return <p className="empty">{t(k)}</p>;
}

/** A page's heading and its toolbar. */
export function PageHead({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <header className="admin-head">
      <h1 id="admin-h">{title}</h1>
      {children}
    </header>
  );
}

/** The error and done note of a `useAction`. */
export function ActionStatus({ action }: { action: { error: unknown; note: string } }) {
  return (
    <>
      {action.error !== null && <ErrorBox error={action.error} />}
      <Note text={action.note} />
    </>
  );
}

/** A list page's one-box search: the filter changes when the form is sent, not per key. */
export function SearchBar({ label, maxLength, onSearch }: { label: string; maxLength: number; onSearch: (q: string) => void }) {
  const { t } = useAdminT();
  const [q, setQ] = useState("");
  return (
    <form
      role="search"
      className="admin-form inline"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch(q);
      }}
    >
      <input type="search" value={q} onChange={(e) => setQ(e.target.value)} aria-label={label} placeholder={label} maxLength={maxLength} />
      <button type="submit">{t("a.search")}</button>
    </form>
  );
}

/**
 * A loaded list in its states: the load error (with Retry), then `status` (a page's action
 * error / note), then "loading…", the empty text or the list itself.
 */
export function Listing<T>({
  items,
  error,
  onRetry,
  empty,
  status,
  children,
}: {
  items: readonly T[] | null;
  error: unknown;
  onRetry: () => void;
  empty: ReactNode;
  status?: ReactNode;
  children: (items: readonly T[]) => ReactNode;
}) {
  return (
    <>
      {error !== null && <ErrorBox error={error} onRetry={onRetry} />}
      {status}
      {items === null ? error === null && <Loading /> : items.length === 0 ? empty : children(items)}
    </>
  );
}

/** A page's pending "are you sure?": `ask` opens it, `dialog` is put at the end of the page. */
export function useConfirm() {
  const [value, setValue] = useState<Confirmation | null>(null);
  return { ask: setValue, dialog: <Confirm value={value} onClose={() => setValue(null)} /> };
}

/** A row's Remove button, confirmed first (`label` names the row for screen readers). */
export function RemoveButton({ label, text, ask, run }: { label: string; text: string; ask: (c: Confirmation) => void; run: () => void }) {
  const { t } = useAdminT();
  return (
    <button type="button" aria-label={label} onClick={() => ask({ title: label, text, ok: t("a.remove"), run })}>
      {t("a.remove")}
    </button>
  );
}

interface FieldAria {
  "aria-invalid": boolean;
  "aria-describedby": string;
}

/**
 * A labelled control checked before sending: its error (id `${id}-err`) and optional help
 * (id `${id}-help`) are tied to the control handed back by `children`.
 */
export function Field({ label, id, error, help, children }: { label: string; id: string; error: string | null; help?: string; children: (aria: FieldAria) => ReactNode }) {
  return (
    <div className="field">
      <label>
        <span>{label}</span>
        {children({ "aria-invalid": error !== null, "aria-describedby": help === undefined ? `${id}-err` : `${id}-help ${id}-err` })}
      </label>
      {help !== undefined && (
        <span className="help" id={`${id}-help`}>
          {help}
        </span>
      )}
      <FieldError id={`${id}-err`} text={error} />
    </div>
  );
}

/** A secret shown once (a generated password): what it is, then the value to copy. */
export function NewSecret({ text, label, value }: { text: string; label: string; value: string }) {
  return (
    <div className="new-secret">
      <p>{text}</p>
      <CopyBox label={label} value={value} />
    </div>
  );
}

/** A detail page until its object is there: not found, the load error (with Retry) or "loading…". */
export function Pending({ load }: { load: { error: unknown; reload: () => void } }) {
  if (isNotFound(load.error)) return <NotFound />;
  if (load.error !== null) return <ErrorBox error={load.error} onRetry={load.reload} />;
  return <Loading />;
}
