// The mail queue: entries with filters, retry / delete / bounce (each confirmed), and one
// entry with its recipients and every delivery attempt's reply. Also the attempts table the
// delivery log reuses.
import { useState, type FormEvent } from "react";
import { adminApi, type QueueEntry } from "./adminApi";
import { useAdminT, type AdminKey, type AdminT } from "./adminMessages";
import { ActionStatus, formatBytes, formatWhen, Listing, LoadMore, PageHead, Pending, useAction, useConfirm, useLoad, usePaged } from "./common";
import { AdminLink, useAdmin } from "./context";

export interface QueueFilters {
  state: string;
  direction: string;
  sender: string;
  recipient: string;
  queue_id: string;
  message_id: string;
}

export const NO_FILTERS: QueueFilters = { state: "", direction: "", sender: "", recipient: "", queue_id: "", message_id: "" };

const TEXT_FILTERS: readonly { name: keyof QueueFilters; key: AdminKey }[] = [
  { name: "queue_id", key: "q.queueId" },
  { name: "message_id", key: "q.messageId" },
  { name: "sender", key: "q.sender" },
  { name: "recipient", key: "q.recipient" },
];

export function FilterForm({ value, onApply, states }: { value: QueueFilters; onApply: (f: QueueFilters) => void; states: readonly string[] }) {
  const { t } = useAdminT();
  const [draft, setDraft] = useState<QueueFilters>(value);
  const set = (name: keyof QueueFilters, v: string): void => setDraft((d) => ({ ...d, [name]: v }));
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    onApply(draft);
  };
  return (
    <form role="search" className="admin-form admin-filters" onSubmit={submit}>
      <label className="field">
        <span>{t("q.state")}</span>
        <select value={draft.state} onChange={(e) => set("state", e.target.value)}>
          <option value="">{t("a.any")}</option>
          {states.map((s) => (
            <option key={s} value={s}>
              {t(`q.state.${s}` as AdminKey)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t("q.direction")}</span>
        <select value={draft.direction} onChange={(e) => set("direction", e.target.value)}>
          <option value="">{t("a.any")}</option>
          <option value="in">{t("q.dir.in")}</option>
          <option value="out">{t("q.dir.out")}</option>
        </select>
      </label>
      {TEXT_FILTERS.map((f) => (
        <label className="field" key={f.name}>
          <span>{t(f.key)}</span>
          <input type="search" value={draft[f.name]} onChange={(e) => set(f.name, e.target.value)} maxLength={998} />
        </label>
      ))}
      <div className="form-buttons">
        <button type="submit">{t("a.filter")}</button>
        <button
          type="button"
          onClick={() => {
            setDraft(NO_FILTERS);
            onApply(NO_FILTERS);
          }}
        >
          {t("a.clear")}
        </button>
      </div>
    </form>
  );
}

export function stateText(t: AdminT, state: string): string {
  return ["queued", "done", "held", "pending"].includes(state) ? t(`q.state.${state}` as AdminKey) : state;
}

export function senderText(t: AdminT, sender: string): string {
  return sender === "" ? t("q.nullSender") : sender;
}

/** Retry / delete / bounce of one entry, each behind a confirm. */
function useEntryActions(onDone: (kind: "retry" | "delete" | "bounce") => void) {
  const { t } = useAdminT();
  const confirm = useConfirm();
  const action = useAction();
  const ask = (kind: "retry" | "delete" | "bounce", id: string): void => {
    const table = {
      retry: { title: t("q.retry"), text: t("q.retryConfirm", { id }), run: () => adminApi.retry(id).then(() => t("q.retried", { id })) },
      delete: { title: t("q.delete"), text: t("q.deleteConfirm", { id }), run: () => adminApi.deleteEntry(id).then(() => t("q.deleted", { id })) },
      bounce: { title: t("q.bounce"), text: t("q.bounceConfirm", { id }), run: () => adminApi.bounce(id).then((r) => t("q.bounced", { count: r.bounced })) },
    }[kind];
    confirm.ask({
      title: table.title,
      text: table.text,
      ok: table.title,
      run: () =>
        void action.run(table.run, (note) => {
          onDone(kind);
          return note;
        }),
    });
  };
  return { ask, dialog: confirm.dialog, action };
}

function EntryButtons({ entry, ask }: { entry: QueueEntry; ask: (kind: "retry" | "delete" | "bounce", id: string) => void }) {
  const { t } = useAdminT();
  if (entry.state === "done") return null;
  return (
    <span className="row-actions">
      <button type="button" onClick={() => ask("retry", entry.queue_id)} aria-label={`${t("q.retry")}: ${entry.queue_id}`}>
        {t("q.retry")}
      </button>
      <button type="button" onClick={() => ask("bounce", entry.queue_id)} aria-label={`${t("q.bounce")}: ${entry.queue_id}`}>
        {t("q.bounce")}
      </button>
      <button type="button" className="danger" onClick={() => ask("delete", entry.queue_id)} aria-label={`${t("q.delete")}: ${entry.queue_id}`}>
        {t("q.delete")}
      </button>
    </span>
  );
}

export function Queue({ id }: { id: string | null }) {
  return id === null ? <QueueList /> : <QueueDetail key={id} id={id} />;
}

function QueueList() {
  const { t, locale } = useAdminT();
  const { isSuper } = useAdmin();
  const [filters, setFilters] = useState<QueueFilters>(NO_FILTERS);
  const paged = usePaged(adminApi.queue, { ...filters });
  const entry = useEntryActions(() => paged.reload());
  const confirm = useConfirm();
  const filtered = Object.values(filters).some((v) => v !== "");
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("q.title")}>
        {isSuper && (
          <button
            type="button"
            onClick={() =>
              confirm.ask({
                title: t("q.flush"),
                text: t("q.flushConfirm"),
                ok: t("q.flush"),
                run: () =>
                  void entry.action.run(adminApi.flush, (r) => {
                    paged.reload();
                    return t("q.flushed", { count: r.flushed });
                  }),
              })
            }
          >
            {t("q.flush")}
          </button>
        )}
      </PageHead>
      <FilterForm value={filters} onApply={setFilters} states={["queued", "held"]} />
      <ActionStatus action={entry.action} />
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} empty={<p className="empty">{filtered ? t("q.noneMatch") : t("q.none")}</p>}>
        {(items) => (
          <table className="admin-table" aria-label={t("q.title")}>
            <thead>
              <tr>
                <th scope="col">{t("q.queueId")}</th>
                <th scope="col">{t("q.state")}</th>
                <th scope="col">{t("q.sender")}</th>
                <th scope="col">{t("q.recipients")}</th>
                <th scope="col">{t("q.received")}</th>
                <th scope="col">{t("q.attempts")}</th>
                <th scope="col">{t("q.lastError")}</th>
                <th scope="col">{t("a.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.queue_id}>
                  <td className="mono">
                    <AdminLink to={{ page: "queue", id: e.queue_id }}>{e.queue_id}</AdminLink>
                  </td>
                  <td>
                    {e.scheduled ? t("q.state.scheduled") : stateText(t, e.state)} · {t(`q.dir.${e.direction}`)}
                  </td>
                  <td>{senderText(t, e.sender)}</td>
                  <td>{e.recipients.map((r) => r.address).join(", ")}</td>
                  <td className="nowrap">{formatWhen(e.received_at, locale, "", true)}</td>
                  <td>{e.attempts}</td>
                  <td className="clip" title={e.last_error}>
                    {e.last_error}
                  </td>
                  <td>
                    <EntryButtons entry={e} ask={entry.ask} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <LoadMore paged={paged} />
      {entry.dialog}
      {confirm.dialog}
    </section>
  );
}

export function EntryDetails({ entry }: { entry: QueueEntry }) {
  const { t, locale } = useAdminT();
  return (
    <>
      <dl className="admin-facts">
        <dt>{t("q.state")}</dt>
        <dd>
          {entry.scheduled ? t("q.state.scheduled") : stateText(t, entry.state)} · {t(`q.dir.${entry.direction}`)}
        </dd>
        <dt>{t("q.sender")}</dt>
        <dd>{senderText(t, entry.sender)}</dd>
        <dt>{t("q.messageId")}</dt>
        <dd className="mono">{entry.message_id || "—"}</dd>
        <dt>{t("q.size")}</dt>
        <dd>{formatBytes(entry.size)}</dd>
        <dt>{t("q.received")}</dt>
        <dd>{formatWhen(entry.received_at, locale, "")}</dd>
        {entry.state !== "done" && (
          <>
            <dt>{t("q.nextAttempt")}</dt>
            <dd>{formatWhen(entry.next_attempt_at, locale, "")}</dd>
          </>
        )}
        <dt>{t("q.origin")}</dt>
        <dd>{entry.origin || "—"}</dd>
        <dt>{t("q.client")}</dt>
        <dd>{entry.client_ip ?? "—"}</dd>
      </dl>
      <h3>{t("q.recipients")}</h3>
      <table className="admin-table" aria-label={t("q.recipients")}>
        <thead>
          <tr>
            <th scope="col">{t("q.address")}</th>
            <th scope="col">{t("a.status")}</th>
            <th scope="col">{t("q.lastReply")}</th>
            <th scope="col">{t("q.updated")}</th>
          </tr>
        </thead>
        <tbody>
          {entry.recipients.map((r) => (
            <tr key={r.address}>
              <td>{r.address}</td>
              <td>
                <span className={`status status-${r.state}`}>{t(`q.rstate.${r.state}`)}</span>
              </td>
              <td className="mono wrap">{r.last_reply || "—"}</td>
              <td>{formatWhen(r.updated_at, locale, "")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>{t("q.attemptLog")}</h3>
      {entry.attempt_log.length === 0 ? (
        <p className="empty">{t("q.noAttempts")}</p>
      ) : (
        <table className="admin-table" aria-label={t("q.attemptLog")}>
          <thead>
            <tr>
              <th scope="col">{t("q.attemptNo")}</th>
              <th scope="col">{t("q.started")}</th>
              <th scope="col">{t("q.result")}</th>
              <th scope="col">{t("q.reply")}</th>
            </tr>
          </thead>
          <tbody>
            {entry.attempt_log.map((a) => (
              <tr key={a.number}>
                <td>{a.number}</td>
                <td>{formatWhen(a.started_at, locale, "")}</td>
                <td>{a.result || t("q.inProgress")}</td>
                <td className="mono wrap">{a.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function QueueDetail({ id }: { id: string }) {
  const { t } = useAdminT();
  const { go } = useAdmin();
  const entry = useLoad((signal) => adminApi.queueEntry(id, signal), id);
  const actions = useEntryActions((kind) => (kind === "delete" ? go({ page: "queue", id: null }) : entry.reload()));
  if (entry.error !== null || entry.data === null) return <Pending load={entry} />;
  const e = entry.data;
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("q.entry", { id: e.queue_id })}>
        <AdminLink to={{ page: "queue", id: null }}>{t("q.back")}</AdminLink>
      </PageHead>
      <EntryButtons entry={e} ask={actions.ask} />
      <ActionStatus action={actions.action} />
      <EntryDetails entry={e} />
      {actions.dialog}
    </section>
  );
}
