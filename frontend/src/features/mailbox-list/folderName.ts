// Display names and order of folders: special folders by their special_use (받은메일함 …),
// user folders by their stored name, after them.
import type { Folder } from "../../api/folders";
import type { MessageKey } from "../../i18n/messages";
import type { Translate } from "../../i18n/translate";

type SpecialUse = Exclude<Folder["special_use"], "">;

const SPECIAL: Readonly<Record<SpecialUse, { key: MessageKey; order: number }>> = {
  inbox: { key: "folder.inbox", order: 0 },
  sent: { key: "folder.sent", order: 1 },
  drafts: { key: "folder.drafts", order: 2 },
  tome: { key: "folder.tome", order: 3 },
  junk: { key: "folder.junk", order: 4 },
  trash: { key: "folder.trash", order: 5 },
};

export function folderDisplayName(folder: Pick<Folder, "name" | "special_use">, t: Translate): string {
  return folder.special_use === "" ? folder.name : t(SPECIAL[folder.special_use].key);
}

/** Special folders in the fixed Naver/Gmail order, then user folders by name. */
export function sortFolders<F extends Pick<Folder, "name" | "special_use">>(folders: readonly F[]): F[] {
  const rank = (f: F): number => (f.special_use === "" ? 100 : SPECIAL[f.special_use].order);
  return [...folders].sort(
    (a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
