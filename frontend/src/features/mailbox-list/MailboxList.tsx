// The left pane: the Compose button, folders in Naver order (받은메일함, 보낸메일함, 임시보관함,
// 내게쓴메일함, 스팸메일함, 휴지통, then the user's own) with unread counts, and folder
// management: new, rename, delete (user folders), empty (Trash and Junk).
import { useState, type FormEvent, type MouseEvent, type ReactNode } from "react";
import type { Folder } from "../../api/folders";
import { createFolder, deleteFolder, emptyFolder, renameFolder } from "../../api/mail";
import { ConfirmDialog } from "../../components/Dialog";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { singleLine } from "../../lib/plainText";
import { routeHref } from "../../lib/route";
import { folderDisplayName, sortFolders } from "./folderName";
import { QuotaMeter } from "./QuotaMeter";

interface Props {
  folders: readonly Folder[];
  selectedId: number | null;
  onSelect: (folderId: number) => void;
  onCompose: () => void;
  /** the folder list changed on the server (created, renamed, deleted, emptied) */
  onChanged: (deletedId?: number) => void;
  /** shown under the Compose button, above the folders (the quick views) */
  header?: ReactNode;
}

type Pending =
  | { kind: "none" }
  | { kind: "create" }
  | { kind: "rename"; folder: Folder }
  | { kind: "delete"; folder: Folder }
  | { kind: "empty"; folder: Folder };

/** A plain left click on a link: handle it in the app; anything else (new tab…) the browser does. */
function isPlainClick(e: MouseEvent): boolean {
  return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey;
}

export function MailboxList({ folders, selectedId, onSelect, onCompose, onChanged, header }: Props) {
  const t = useT();
  const [pending, setPending] = useState<Pending>({ kind: "none" });
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = (call: () => Promise<unknown>, deletedId?: number): void => {
    setBusy(true);
    setError(null);
    call().then(
      () => {
        setBusy(false);
        setPending({ kind: "none" });
        onChanged(deletedId);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
        // Keep the form open with what was typed: nothing is lost on a failure.
        setPending((p) => (p.kind === "delete" || p.kind === "empty" ? { kind: "none" } : p));
      },
    );
  };

  const submitName = (e: FormEvent): void => {
    e.preventDefault();
    const trimmed = name.trim();
    if (!trimmed || busy) return;
    if (pending.kind === "create") run(() => createFolder(trimmed));
    else if (pending.kind === "rename") {
      const id = pending.folder.id;
      run(() => renameFolder(id, trimmed));
    }
  };

  const startName = (next: Pending, initial: string): void => {
    setError(null);
    setName(initial);
    setPending(next);
  };

  const nameForm = (label: string) => (
    <form className="folder-form" onSubmit={submitName} data-testid="folder-form">
      <label>
        <span className="visually-hidden">{t("folders.name")}</span>
        <input
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={500}
          required
          autoFocus
          aria-label={t("folders.name")}
          onKeyDown={(e) => {
            if (e.key === "Escape") {
              e.stopPropagation();
              setPending({ kind: "none" });
            }
          }}
        />
      </label>
      <button type="submit" disabled={busy || !name.trim()}>
        {label}
      </button>
      <button type="button" onClick={() => setPending({ kind: "none" })}>
        {t("common.cancel")}
      </button>
    </form>
  );

  return (
    <nav className="mailboxes" aria-label={t("folders.title")}>
      <button type="button" className="compose-button" onClick={onCompose} data-testid="compose">
        {t("shell.compose")}
      </button>
      {header}
      <ul>
        {sortFolders(folders).map((folder) => {
          const label = singleLine(folderDisplayName(folder, t));
          const current = folder.id === selectedId;
          const emptiable = folder.special_use === "trash" || folder.special_use === "junk";
          return (
            <li key={folder.id} className={current ? "folder-item selected" : "folder-item"}>
              <a
                href={routeHref({ kind: "mail", folderId: folder.id, messageId: null })}
                className="folder"
                aria-current={current ? "page" : undefined}
                aria-description={folder.unread > 0 ? t("folders.unread", { count: folder.unread }) : undefined}
                onClick={(e) => {
                  if (!isPlainClick(e)) return;
                  e.preventDefault();
                  onSelect(folder.id);
                }}
                data-testid={`folder-${folder.special_use || folder.id}`}
              >
                <bdi className="folder-name">{label}</bdi>
                {folder.unread > 0 && (
                  <span className="unread-count" aria-hidden="true">
                    {folder.unread}
                  </span>
                )}
              </a>
              {emptiable && folder.total > 0 && (
                <button
                  type="button"
                  className="folder-tool"
                  aria-label={t("folders.emptyNamed", { name: label })}
                  title={t("folders.emptyNamed", { name: label })}
                  onClick={() => setPending({ kind: "empty", folder })}
                  data-testid={`empty-${folder.special_use}`}
                >
                  {t("folders.empty")}
                </button>
              )}
              {folder.special_use === "" && (
                <>
                  <button
                    type="button"
                    className="folder-tool"
                    aria-label={t("folders.renameNamed", { name: label })}
                    title={t("folders.renameNamed", { name: label })}
                    onClick={() => startName({ kind: "rename", folder }, folder.name)}
                  >
                    ✎
                  </button>
                  <button
                    type="button"
                    className="folder-tool"
                    aria-label={t("folders.deleteNamed", { name: label })}
                    title={t("folders.deleteNamed", { name: label })}
                    onClick={() => setPending({ kind: "delete", folder })}
                  >
                    ✕
                  </button>
                </>
              )}
              {pending.kind === "rename" && pending.folder.id === folder.id && nameForm(t("folders.rename"))}
            </li>
          );
        })}
      </ul>
      {pending.kind === "create" ? (
        nameForm(t("folders.create"))
      ) : (
        <button type="button" className="new-folder" onClick={() => startName({ kind: "create" }, "")} data-testid="new-folder">
          {t("folders.new")}
        </button>
      )}
      {error !== null && <ErrorNotice error={error} />}
      <QuotaMeter refreshKey={folders.reduce((n, f) => n + f.total, 0)} />
      {pending.kind === "delete" && (
        <ConfirmDialog
          title={t("folders.deleteNamed", { name: singleLine(pending.folder.name) })}
          text={t("folders.deleteConfirm", { name: singleLine(pending.folder.name), count: pending.folder.total })}
          confirmLabel={t("common.delete")}
          cancelLabel={t("common.cancel")}
          onCancel={() => setPending({ kind: "none" })}
          onConfirm={() => {
            const id = pending.folder.id;
            run(() => deleteFolder(id), id);
          }}
        />
      )}
      {pending.kind === "empty" && (
        <ConfirmDialog
          title={t("folders.emptyNamed", { name: folderDisplayName(pending.folder, t) })}
          text={t("folders.emptyConfirm", { name: folderDisplayName(pending.folder, t), count: pending.folder.total })}
          confirmLabel={t("folders.empty")}
          cancelLabel={t("common.cancel")}
          onCancel={() => setPending({ kind: "none" })}
          onConfirm={() => {
            const id = pending.folder.id;
            run(() => emptyFolder(id));
          }}
        />
      )}
    </nav>
  );
}
