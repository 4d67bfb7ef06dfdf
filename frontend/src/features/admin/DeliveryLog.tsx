// The delivery log: every entry the server handled (any state), searchable by queue id,
// Message-ID, sender and recipient; each opens to its recipients and attempts with replies.
import { useState } from "react";
import { adminApi } from "./adminApi";
import { useAdminT } from "./adminMessages";
import { Empty, formatWhen, Listing, LoadMore, PageHead, usePaged } from "./common";
import { EntryDetails, FilterForm, NO_FILTERS, senderText, stateText, type QueueFilters } from "./Queue";

export function DeliveryLog() {
  const { t, locale } = useAdminT();
  const [filters, setFilters] = useState<QueueFilters>(NO_FILTERS);
  const paged = usePaged(adminApi.deliveryLog, { ...filters });
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("log.title")} />
      <p className="help">{t("log.help")}</p>
      <FilterForm value={filters} onApply={setFilters} states={["pending", "queued", "held", "done"]} />
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} empty={<Empty k="log.none" />}>
        {(items) => (
          <ul className="log-list" aria-label={t("log.title")}>
            {items.map((e) => (
              <li key={e.queue_id}>
                <details>
                  <summary aria-label={t("log.details", { id: e.queue_id })}>
                    <span className="mono">{e.queue_id}</span> · {formatWhen(e.received_at, locale, "")} · {stateText(t, e.state)} · {senderText(t, e.sender)} →{" "}
                    {e.recipients.map((r) => `${r.address} (${t(`q.rstate.${r.state}`)})`).join(", ")}
                  </summary>
                  <EntryDetails entry={e} />
                </details>
              </li>
            ))}
          </ul>
        )}
      </Listing>
      <LoadMore paged={paged} />
    </section>
  );
}
