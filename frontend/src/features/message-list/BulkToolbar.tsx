// Above the grid: select-all checkbox and the actions on the checked rows (read/unread,
// star, move, delete, spam). The actions themselves live in useBulkActions.
import { useEffect, useRef } from "react";
import type { Folder } from "../../api/folders";
import { useT } from "../../i18n/I18nContext";
import { singleLine } from "../../lib/plainText";
import { folderDisplayName, sortFolders } from "../mailbox-list/folderName";
import type { AllState } from "./selection";

export type BulkCommand =
  | { kind: "read" }
  | { kind: "unread" }
  | { kind: "star" }
  | { kind: "unstar" }
  | { kind: "delete" }
  | { kind: "spam"; spam: boolean }
  | { kind: "move"; folderId: number };

interface Props {
  count: number;
  all: AllState;
  folders: readonly Folder[];
  /** the folder the list shows (null: search results across folders) */
  currentFolder: Folder | null;
  busy: boolean;
  onSelectAll: (on: boolean) => void;
  onCommand: (command: BulkCommand) => void;
}

export function BulkToolbar({ count, all, folders, currentFolder, busy, onSelectAll, onCommand }: Props) {
  const t = useT();
  const allRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (allRef.current) allRef.current.indeterminate = all === "some";
  }, [all]);
  const none = count === 0 || busy;
  const inTrash = currentFolder?.special_use === "trash";
  const inJunk = currentFolder?.special_use === "junk";
  const targets = sortFolders(folders).filter((f) => f.id !== currentFolder?.id && f.special_use !== "drafts");
  return (
    <div className="bulk-toolbar" role="group" aria-label={t("bulk.title")}>
      <label className="select-all">
        <input
          ref={allRef}
          type="checkbox"
          checked={all === "all"}
          onChange={(e) => onSelectAll(e.target.checked)}
          data-testid="select-all"
        />
        <span className="visually-hidden">{t("bulk.selectAll")}</span>
      </label>
      {count > 0 && (
        <span className="selected-count" aria-live="polite">
          {t("bulk.selected", { count })}
        </span>
      )}
      <button type="button" disabled={none} onClick={() => onCommand({ kind: "read" })} data-testid="bulk-read">
        {t("bulk.markRead")}
      </button>
      <button type="button" disabled={none} onClick={() => onCommand({ kind: "unread" })} data-testid="bulk-unread">
        {t("bulk.markUnread")}
      </button>
      <button type="button" disabled={none} onClick={() => onCommand({ kind: "star" })} data-testid="bulk-star">
        {t("bulk.star")}
      </button>
      <button type="button" disabled={none} onClick={() => onCommand({ kind: "unstar" })} data-testid="bulk-unstar">
        {t("bulk.unstar")}
      </button>
      <button type="button" disabled={none} onClick={() => onCommand({ kind: "delete" })} data-testid="bulk-delete">
        {inTrash ? t("bulk.deleteForever") : t("bulk.delete")}
      </button>
      <button
        type="button"
        disabled={none}
        onClick={() => onCommand({ kind: "spam", spam: !inJunk })}
        data-testid="bulk-spam"
      >
        {inJunk ? t("bulk.notSpam") : t("bulk.spam")}
      </button>
      <label className="move-to">
        <span className="visually-hidden">{t("bulk.moveTo")}</span>
        <select
          value=""
          disabled={none}
          aria-label={t("bulk.moveTo")}
          onChange={(e) => {
            const id = Number(e.target.value);
            if (id > 0) onCommand({ kind: "move", folderId: id });
          }}
          data-testid="bulk-move"
        >
          <option value="">{t("bulk.moveTo")}</option>
          {targets.map((f) => (
            <option key={f.id} value={f.id}>
              {singleLine(folderDisplayName(f, t))}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}
