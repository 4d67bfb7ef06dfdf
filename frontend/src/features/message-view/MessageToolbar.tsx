// The actions on the open message: answer, delete, star, mark unread, move, spam, view the
// source, print. Buttons only; MessageView does the calls. On a phone only reply, reply all
// and delete stay in the bar; the others are in the More menu (theme.css hides the rest).
import { useEffect, useRef, useState } from "react";
import type { Folder } from "../../api/folders";
import { Icon, type IconName } from "../../components/Icon";
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
  const [more, setMore] = useState(false);
  const moveRoot = useRef<HTMLSpanElement>(null);
  const moreRoot = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (!more) return;
    const onKey = (e: KeyboardEvent): void => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      setMore(false);
    };
    const onDown = (e: MouseEvent): void => {
      if (moreRoot.current && e.target instanceof Node && !moreRoot.current.contains(e.target)) setMore(false);
    };
    window.addEventListener("keydown", onKey, true);
    document.addEventListener("mousedown", onDown);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      document.removeEventListener("mousedown", onDown);
    };
  }, [more]);
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
  const ICON: Record<ToolbarAction, IconName> = {
    reply: "reply",
    replyall: "replyall",
    forward: "forward",
    delete: "delete",
    star: "star",
    unread: "unread",
    spam: inJunk ? "notspam" : "spam",
    source: "source",
    print: "print",
  };
  const secondary = (action: ToolbarAction): boolean => !["reply", "replyall", "delete"].includes(action);
  const button = (action: ToolbarAction, label: string, extra: Record<string, unknown> = {}) => (
    <button
      type="button"
      onClick={() => onAction(action)}
      disabled={busy}
      data-testid={`action-${action}`}
      {...extra}
      className={[secondary(action) ? "toolbar-secondary" : "", (extra.className as string | undefined) ?? ""].join(" ").trim() || undefined}
    >
      <Icon name={ICON[action]} filled={action === "star" && starred} />
      {label}
    </button>
  );
  const menuItem = (action: ToolbarAction, label: string) => (
    <li key={action} role="none">
      <button
        type="button"
        role="menuitem"
        disabled={busy}
        onClick={() => {
          setMore(false);
          onAction(action);
        }}
        data-testid={`more-${action}`}
      >
        <Icon name={ICON[action]} filled={action === "star" && starred} />
        {label}
      </button>
    </li>
  );
  return (
    <div className="message-toolbar" role="toolbar" aria-label={t("view.actions")}>
      {button("reply", t("view.reply"))}
      {button("replyall", t("view.replyAll"))}
      {button("forward", t("view.forward"))}
      {button("delete", t("view.delete"))}
      {button("star", t("view.star"), { "aria-pressed": starred, className: starred ? "starred" : undefined })}
      {button("unread", t("view.markUnread"))}
      <span className="move toolbar-secondary" ref={moveRoot}>
        <button
          type="button"
          aria-expanded={moving}
          disabled={busy}
          onClick={() => setMoving((v) => !v)}
          data-testid="action-move"
        >
          <Icon name="move" />
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
      <span className="toolbar-more" ref={moreRoot}>
        <button
          type="button"
          aria-haspopup="menu"
          aria-expanded={more}
          onClick={() => setMore((v) => !v)}
          data-testid="action-more"
        >
          <Icon name="more" />
          {t("view.more")}
        </button>
        {more && (
          <ul className="more-menu" role="menu" aria-label={t("view.moreActions")}>
            {menuItem("forward", t("view.forward"))}
            {menuItem("star", t("view.star"))}
            {menuItem("unread", t("view.markUnread"))}
            {menuItem("spam", inJunk ? t("view.notSpam") : t("view.spam"))}
            {menuItem("source", t("view.viewSource"))}
            {menuItem("print", t("view.print"))}
            {(targets ?? []).map((f) => (
              <li key={`move-${f.id}`} role="none">
                <button
                  type="button"
                  role="menuitem"
                  disabled={busy}
                  onClick={() => {
                    setMore(false);
                    onMove(f.id);
                  }}
                >
                  <Icon name="move" />
                  {t("view.moveTo")}: {folderDisplayName(f, t)}
                </button>
              </li>
            ))}
          </ul>
        )}
      </span>
    </div>
  );
}
