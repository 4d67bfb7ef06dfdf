// The quick views at the top of the folder pane (Naver's 안읽은메일, 중요메일, 첨부메일): links
// to lists over all folders but Trash and Junk, each with how many messages it holds.
import { useEffect, useState, type MouseEvent } from "react";
import { getViewCounts, type ViewCounts } from "../../api/quickViews";
import { useT } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import { QUICK_VIEWS, routeHref, type QuickView } from "../../lib/route";
import { Icon } from "../../components/Icon";

interface Props {
  selected: QuickView | null;
  /** changes whenever counts may have changed (the folder list was re-read) */
  refreshKey: unknown;
  onSelect: (view: QuickView) => void;
}

export const VIEW_LABEL: Record<QuickView, MessageKey> = {
  unread: "views.unread",
  flagged: "views.flagged",
  attachments: "views.attachments",
};

const COUNT_OF: Record<QuickView, keyof ViewCounts> = {
  unread: "unread",
  flagged: "flagged",
  attachments: "has_attachments",
};

const ICON: Record<QuickView, "mail" | "star" | "paperclip"> = {
  unread: "mail",
  flagged: "star",
  attachments: "paperclip",
};

function isPlainClick(e: MouseEvent): boolean {
  return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey;
}

export function QuickViewList({ selected, refreshKey, onSelect }: Props) {
  const t = useT();
  const [counts, setCounts] = useState<ViewCounts | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    getViewCounts(abort.signal).then(setCounts, () => undefined); // counts are a hint: the links work without them
    return () => abort.abort();
  }, [refreshKey]);
  return (
    <ul className="quick-views" aria-label={t("views.title")} data-testid="quick-views">
      {QUICK_VIEWS.map((view) => {
        const count = counts?.[COUNT_OF[view]] ?? 0;
        const current = view === selected;
        return (
          <li key={view} className={current ? "folder-item selected" : "folder-item"}>
            <a
              href={routeHref({ kind: "view", view, messageId: null })}
              className="folder"
              aria-current={current ? "page" : undefined}
              aria-description={counts ? t("views.count", { count }) : undefined}
              onClick={(e) => {
                if (!isPlainClick(e)) return;
                e.preventDefault();
                onSelect(view);
              }}
              data-testid={`view-${view}`}
            >
              <Icon name={ICON[view]} />
              <span className="folder-name">{t(VIEW_LABEL[view])}</span>
              {count > 0 && (
                <span className={view === "unread" ? "unread-count" : "view-count"} aria-hidden="true">
                  {count}
                </span>
              )}
            </a>
          </li>
        );
      })}
    </ul>
  );
}
