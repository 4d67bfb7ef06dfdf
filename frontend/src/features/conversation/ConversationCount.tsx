// The "(3)" after the sender of a grouped list row: how many messages the conversation holds.
import { useT } from "../../i18n/I18nContext";

export function ConversationCount({ count, id }: { count: number; id: number }) {
  const t = useT();
  return (
    <span className="conv-count" title={t("conv.count", { count })} aria-label={t("conv.count", { count })} data-testid={`conv-count-${id}`}>
      {count}
    </span>
  );
}
