// The folder pane's entry to 예약 메일 (/outbox), under the quick views.
import { useT } from "../../i18n/I18nContext";

export function OutboxLink({ current, onOpen }: { current: boolean; onOpen: () => void }) {
  const t = useT();
  return (
    <nav className="outbox-link" aria-label={t("outbox.title")}>
      <a
        href="/outbox"
        aria-current={current ? "page" : undefined}
        data-testid="outbox-link"
        onClick={(e) => {
          e.preventDefault();
          onOpen();
        }}
      >
        {t("outbox.nav")}
      </a>
    </nav>
  );
}
