// The "?" dialog: every keyboard shortcut and what it does.
import { Dialog } from "../../components/Dialog";
import { useT } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import { SHORTCUTS, type ShortcutCommand } from "./shortcuts";

const DESCRIPTIONS: Readonly<Record<ShortcutCommand, MessageKey>> = {
  compose: "shortcuts.compose",
  reply: "shortcuts.reply",
  replyAll: "shortcuts.replyAll",
  forward: "shortcuts.forward",
  next: "shortcuts.next",
  previous: "shortcuts.previous",
  open: "shortcuts.open",
  select: "shortcuts.select",
  delete: "shortcuts.delete",
  star: "shortcuts.star",
  search: "shortcuts.search",
  help: "shortcuts.help",
  back: "shortcuts.back",
  escape: "shortcuts.escape",
};

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const t = useT();
  return (
    <Dialog title={t("shortcuts.title")} onClose={onClose} testId="shortcut-help">
      <table className="shortcut-table">
        <thead>
          <tr>
            <th scope="col">{t("shortcuts.key")}</th>
            <th scope="col">{t("shortcuts.action")}</th>
          </tr>
        </thead>
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.command}>
              <td>
                <kbd>{s.key}</kbd>
              </td>
              <td>{t(DESCRIPTIONS[s.command])}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="dialog-buttons">
        <button type="button" onClick={onClose} data-autofocus>
          {t("common.close")}
        </button>
      </div>
    </Dialog>
  );
}
