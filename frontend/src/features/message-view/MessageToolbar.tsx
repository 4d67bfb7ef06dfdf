// The actions on the open message: answer, delete, star, mark unread, move, spam, view the
// source, print. Buttons only; MessageView does the calls.
import { useEffect, useRef, useState } from "react";
import type { Folder } from "../../api/folders";
import { useT } from "../../i18n/I18nContext";
import { folderDisplayName } from "../mailbox-list/folderName";

export type ToolbarAction =
  | "reply"
  | "replyall"
  | "forward"
  | "delete"
  | "star"
  | "unread"
  | "spam"
  | "source"
  | "print";

interface Props {
  starred: boolean;
  inJunk: boolean;
  busy: boolean;
  /** Folders the message can be moved to (not the one it is in); null while loading. */
  targets: readonly Folder[] | null;
  onAction: (action: ToolbarAction) => void;
  onMove: (folderId: number) => void;
}

export function MessageToolbar({ starred, inJunk, busy, targets, onAction, onMove }: Props) {
  const t = useT();
  const [moving, setMoving] = useState(false);
  const moveRoot = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (!moving) return;
    // Capture phase: this Escape closes the menu, not the message (the shell's shortcut).
    const onKey = (e: KeyboardEvent): void => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      setMoving(false);
    };
    const onDown = (e: MouseEvent): void => {
      if (moveRoot.current && e.target instanceof Node && !moveRoot.current.contains(e.target)) setMoving(false);
    };
    window.addEventListener("keydown", onKey, true);
    document.addEventListener("mousedown", onDown);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      document.removeEventListener("mousedown", onDown);
    };
  }, [moving]);
  const button = (action: ToolbarAction, label: string, extra: Record<string, unknown> = {}) => (
    <button type="button" onClick={() => onAction(action)} disabled={busy} data-testid={`action-${action}`} {...extra}>
      {label}
    </button>
  );
  return (
    <div className="message-toolbar" role="toolbar" aria-label={t("view.actions")}>
      {button("reply", t("view.reply"))}
      {button("replyall", t("view.replyAll"))}
      {button("forward", t("view.forward"))}
      {button("delete", t("view.delete"))}
      {button("star", t("view.star"), { "aria-pressed": starred, className: starred ? "starred" : undefined })}
      {button("unread", t("view.markUnread"))}
      <span className="move" ref={moveRoot}>
        <button
          type="button"
          aria-expanded={moving}
          disabled={busy}
          onClick={() => setMoving((v) => !v)}
          data-testid="action-move"
        >
          {t("view.move")}
        </button>
        {moving && (
          <ul className="move-menu" aria-label={t("view.moveTo")}>
            {targets === null ? (
              <li className="loading">{t("loading")}</li>
            ) : (
              targets.map((f) => (
                <li key={f.id}>
                  <button
                    type="button"
                    onClick={() => {
                      setMoving(false);
                      onMove(f.id);
                    }}
                    data-testid={`move-to-${f.id}`}
                  >
                    {folderDisplayName(f, t)}
                  </button>
                </li>
              ))
            )}
          </ul>
        )}
      </span>
      {button("spam", inJunk ? t("view.notSpam") : t("view.spam"))}
      {button("source", t("view.viewSource"))}
      {button("print", t("view.print"))}
    </div>
  );
}
