// The signed-in screen: header, then folders | message list | message, driven by the URL.
import { useCallback, useEffect } from "react";
import type { MessageDetail } from "../../api/messages";
import type { SessionUser } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { useRoute } from "../../lib/useRoute";
import { MailboxList } from "../mailbox-list/MailboxList";
import { useFolders } from "../mailbox-list/useFolders";
import { MessageList } from "../message-list/MessageList";
import { useMessagePage } from "../message-list/useMessagePage";
import { MessageView } from "../message-view/MessageView";
import { useMessage } from "../message-view/useMessage";
import { TopBar } from "./TopBar";

interface Props {
  user: SessionUser;
  onSignOut: () => void;
}

export function MailLayout({ user, onSignOut }: Props) {
  const t = useT();
  const [route, navigate] = useRoute();
  const { folders, error: foldersError, reload, adjustUnread } = useFolders();
  const page = useMessagePage(route.folderId);
  const { markSeen } = page;

  // "/" (or a folder that is gone) opens the inbox, as Naver and Gmail do.
  useEffect(() => {
    if (!folders) return;
    if (route.folderId !== null && folders.some((f) => f.id === route.folderId)) return;
    const inbox = folders.find((f) => f.special_use === "inbox") ?? folders[0];
    if (inbox) navigate({ folderId: inbox.id, messageId: null }, true);
  }, [folders, route.folderId, navigate]);

  const onSeen = useCallback(
    (m: MessageDetail) => {
      markSeen(m.id);
      adjustUnread(m.folder, -1);
    },
    [markSeen, adjustUnread],
  );
  const { message, error: messageError, retry } = useMessage(route.messageId, onSeen);

  const view = route.messageId !== null ? "reading" : "listing";
  return (
    <div className={`app ${view}`}>
      <TopBar user={user} onSignOut={onSignOut} />
      <div className="panes">
        <aside className="pane pane-folders">
          {foldersError !== null && <ErrorNotice error={foldersError} onRetry={reload} />}
          {folders && (
            <MailboxList
              folders={folders}
              selectedId={route.folderId}
              onSelect={(folderId) => navigate({ folderId, messageId: null })}
            />
          )}
        </aside>
        <div className="pane pane-list">
          <MessageList
            messages={page.messages}
            selectedId={route.messageId}
            loading={page.loading}
            error={page.error}
            hasMore={page.hasMore}
            onOpen={(messageId) => navigate({ folderId: route.folderId, messageId })}
            onLoadMore={page.loadMore}
          />
        </div>
        <main className="pane pane-message">
          {route.messageId === null ? (
            <p className="placeholder">{t("view.none")}</p>
          ) : messageError !== null ? (
            <ErrorNotice error={messageError} onRetry={retry} />
          ) : message === null ? (
            <p className="loading">{t("loading")}</p>
          ) : (
            <MessageView
              message={message}
              onBack={() => navigate({ folderId: route.folderId, messageId: null })}
            />
          )}
        </main>
      </div>
    </div>
  );
}
