// The left pane: folders in Naver order with their unread counts.
import type { Folder } from "../../api/folders";
import { useT } from "../../i18n/I18nContext";
import { folderDisplayName, sortFolders } from "./folderName";

interface Props {
  folders: readonly Folder[];
  selectedId: number | null;
  onSelect: (folderId: number) => void;
}

export function MailboxList({ folders, selectedId, onSelect }: Props) {
  const t = useT();
  return (
    <nav className="mailboxes" aria-label={t("folders.title")}>
      <ul>
        {sortFolders(folders).map((folder) => {
          const name = folderDisplayName(folder, t);
          return (
            <li key={folder.id}>
              <button
                type="button"
                className={folder.id === selectedId ? "folder selected" : "folder"}
                aria-current={folder.id === selectedId ? "page" : undefined}
                onClick={() => onSelect(folder.id)}
                data-testid={`folder-${folder.special_use || folder.id}`}
              >
                <span className="folder-name">{name}</span>
                {folder.unread > 0 && (
                  <span className="unread-count" aria-label={t("folders.unread", { count: folder.unread })}>
                    {folder.unread}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
