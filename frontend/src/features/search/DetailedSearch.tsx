// 상세검색: a panel under the search box with a field per operator (sender, recipient,
// subject, body, attachment file name, date range, has-attachment, folder, read state,
// starred). It only writes a query (searchQuery.buildQuery) and hands it on: the search
// itself is the search box's (same URL, same API, same results).
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { Folder } from "../../api/folders";
import { useT } from "../../i18n/I18nContext";
import { buildQuery, EMPTY_FIELDS, parseQuery, type DetailedFields } from "./searchQuery";
import "./search.css";

interface Props {
  folders: readonly Folder[];
  /** the current search (prefills the panel), "" when none */
  q: string;
  folderId: number | null;
  onSearch: (q: string, folderId: number | null) => void;
}

const EVERYWHERE = "anywhere";

export function DetailedSearch({ folders, q, folderId, onSearch }: Props) {
  const t = useT();
  const [open, setOpen] = useState(false);
  const [fields, setFields] = useState<DetailedFields>(EMPTY_FIELDS);
  const [folder, setFolder] = useState("");
  const [error, setError] = useState("");
  const panelId = useId();
  const firstRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!open) return;
    const parsed = parseQuery(q);
    const everywhere = /(^|\s)in:anywhere(\s|$)/.test(parsed.words);
    setFields({ ...parsed, words: parsed.words.replace(/(^|\s)in:anywhere(?=\s|$)/g, " ").trim() });
    setFolder(everywhere ? EVERYWHERE : folderId !== null ? String(folderId) : "");
    setError("");
    firstRef.current?.focus();
  }, [open, q, folderId]);

  const set = <K extends keyof DetailedFields>(name: K, value: DetailedFields[K]): void =>
    setFields((f) => ({ ...f, [name]: value }));

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    if (fields.after && fields.before && fields.after > fields.before) {
      setError(t("dsearch.badRange"));
      return;
    }
    let query = buildQuery(fields);
    if (folder === EVERYWHERE && query) query = `${query} in:anywhere`;
    if (!query) {
      setError(t("dsearch.empty"));
      return;
    }
    if (query.length > 200) query = query.slice(0, 200);
    setOpen(false);
    onSearch(query, folder && folder !== EVERYWHERE ? Number(folder) : null);
  };

  const text = (name: "words" | "from" | "to" | "subject" | "body" | "filename", first = false) => (
    <label className="dsearch-field">
      <span>{t(`dsearch.${name}` as const)}</span>
      <input
        ref={first ? firstRef : undefined}
        type="text"
        maxLength={100}
        value={fields[name]}
        onChange={(e) => set(name, e.target.value)}
        data-testid={`dsearch-${name}`}
      />
    </label>
  );

  return (
    <div className="dsearch">
      <button
        type="button"
        className="dsearch-toggle"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}
        data-testid="dsearch-toggle"
      >
        {t("dsearch.open")}
      </button>
      {open && (
        <form
          id={panelId}
          className="dsearch-panel"
          role="dialog"
          aria-label={t("dsearch.title")}
          onSubmit={submit}
          onKeyDown={(e) => {
            if (e.key === "Escape") setOpen(false);
          }}
          data-testid="dsearch-panel"
        >
          {text("from", true)}
          {text("to")}
          {text("subject")}
          {text("body")}
          {text("filename")}
          {text("words")}
          <div className="dsearch-dates">
            <label className="dsearch-field">
              <span>{t("dsearch.after")}</span>
              <input type="date" value={fields.after} onChange={(e) => set("after", e.target.value)} data-testid="dsearch-after" />
            </label>
            <label className="dsearch-field">
              <span>{t("dsearch.before")}</span>
              <input type="date" value={fields.before} onChange={(e) => set("before", e.target.value)} data-testid="dsearch-before" />
            </label>
          </div>
          <label className="dsearch-field">
            <span>{t("dsearch.folder")}</span>
            <select value={folder} onChange={(e) => setFolder(e.target.value)} data-testid="dsearch-folder">
              <option value="">{t("dsearch.anyFolder")}</option>
              <option value={EVERYWHERE}>{t("dsearch.everywhere")}</option>
              {folders.map((f) => (
                <option key={f.id} value={String(f.id)}>
                  {f.name}
                </option>
              ))}
            </select>
          </label>
          <label className="dsearch-field">
            <span>{t("dsearch.read")}</span>
            <select
              value={fields.read}
              onChange={(e) => set("read", e.target.value === "unread" || e.target.value === "read" ? e.target.value : "")}
              data-testid="dsearch-read"
            >
              <option value="">{t("dsearch.anyRead")}</option>
              <option value="unread">{t("dsearch.unread")}</option>
              <option value="read">{t("dsearch.readOnly")}</option>
            </select>
          </label>
          <label className="dsearch-check">
            <input type="checkbox" checked={fields.hasAttachment} onChange={(e) => set("hasAttachment", e.target.checked)} data-testid="dsearch-has-attachment" />
            {t("dsearch.hasAttachment")}
          </label>
          <label className="dsearch-check">
            <input type="checkbox" checked={fields.starred} onChange={(e) => set("starred", e.target.checked)} data-testid="dsearch-starred" />
            {t("dsearch.starred")}
          </label>
          {error && (
            <p role="alert" className="dsearch-error" data-testid="dsearch-error">
              {error}
            </p>
          )}
          <p className="dsearch-hint">{t("dsearch.hint")}</p>
          <div className="dsearch-actions">
            <button type="submit" data-testid="dsearch-submit">
              {t("dsearch.submit")}
            </button>
            <button
              type="button"
              onClick={() => {
                setFields(EMPTY_FIELDS);
                setFolder("");
                setError("");
              }}
            >
              {t("dsearch.reset")}
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              {t("dsearch.close")}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
