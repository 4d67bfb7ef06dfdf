// Held senders (containment, mailcore.delivery.containment): accounts whose outgoing mail is
// paused in the queue after a burst, a high bounce rate or spam refusals. Release sends the
// held mail and starts the account's counters afresh; delete removes the held mail (audited
// per message). The API scopes both: a domain admin sees and acts on its own domains only.
import { adminApi, type HeldSender } from "./adminApi";
import { useAdminT, type AdminKey } from "./adminMessages";
import { ActionStatus, Empty, formatWhen, Listing, LoadMore, PageHead, useAction, useConfirm, usePaged } from "./common";

const REASONS: Readonly<Record<string, AdminKey>> = {
  burst: "held.reason.burst",
  bounces: "held.reason.bounces",
  spam: "held.reason.spam",
  admin: "held.reason.admin",
};

export function HeldSenders() {
  const { t, locale } = useAdminT();
  const paged = usePaged(adminApi.heldSenders, {});
  const confirm = useConfirm();
  const action = useAction();

  const release = (h: HeldSender): void =>
    confirm.ask({
      title: t("held.releaseTitle", { address: h.address }),
      text: t("held.releaseConfirm", { messages: h.held_messages }),
      ok: t("held.release"),
      run: () =>
        void action.run(
          () => adminApi.releaseHeld(h.account_id),
          (r) => {
            paged.reload();
            return t("held.released", { address: h.address, count: r.released });
          },
        ),
    });

  const remove = (h: HeldSender): void =>
    confirm.ask({
      title: t("held.deleteTitle", { address: h.address }),
      text: t("held.deleteConfirm", { messages: h.held_messages }),
      ok: t("held.delete"),
      run: () =>
        void action.run(
          () => adminApi.deleteHeld(h.account_id),
          (r) => {
            paged.reload();
            return t("held.deleted", { address: h.address, count: r.deleted });
          },
        ),
    });

  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("held.title")} />
      <p className="help">{t("held.help")}</p>
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} status={<ActionStatus action={action} />} empty={<Empty k="held.none" />}>
        {(items) => (
          <table className="admin-table" aria-label={t("held.title")}>
            <thead>
              <tr>
                <th scope="col">{t("held.account")}</th>
                <th scope="col">{t("held.reason")}</th>
                <th scope="col">{t("held.since")}</th>
                <th scope="col">{t("held.messages")}</th>
                <th scope="col">{t("a.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((h) => (
                <tr key={h.account_id}>
                  <td className="mono">{h.address}</td>
                  <td>
                    {REASONS[h.reason] ? t(REASONS[h.reason] as AdminKey) : h.reason}
                    <br />
                    <small>{h.detail}</small>
                  </td>
                  <td className="nowrap">{formatWhen(h.held_at, locale, "", true)}</td>
                  <td>{t("held.count", { messages: h.held_messages, recipients: h.held_recipients })}</td>
                  <td className="nowrap">
                    <button type="button" disabled={action.busy} onClick={() => release(h)} aria-label={`${t("held.release")}: ${h.address}`}>
                      {t("held.release")}
                    </button>{" "}
                    <button
                      type="button"
                      className="danger"
                      disabled={action.busy || h.held_messages === 0}
                      onClick={() => remove(h)}
                      aria-label={`${t("held.delete")}: ${h.address}`}
                    >
                      {t("held.delete")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <LoadMore paged={paged} />
      {confirm.dialog}
    </section>
  );
}
