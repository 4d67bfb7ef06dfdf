// Relay rules (superadmin): which networks may relay without signing in, with the same checks
// as `manage.py relay` — a network wider than /24 (IPv4) or /56 (IPv6) is refused (409) until
// confirmed, then sent again with force.
import { useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { adminApi, type RelayRule, type RelayRuleCreate } from "./adminApi";
import { useAdminT } from "./adminMessages";
import { ActionStatus, Empty, Field, Listing, LoadMore, PageHead, RemoveButton, useAction, useConfirm, usePaged } from "./common";
import { checkDomainName, checkNetwork } from "./validate";

const ACTIONS: readonly RelayRule["action"][] = ["RELAY", "OK", "REJECT", "DISCARD"];

export function AddRelayRule({ onAdded }: { onAdded: () => void }) {
  const { t } = useAdminT();
  const [network, setNetwork] = useState("");
  const [ruleAction, setRuleAction] = useState<RelayRule["action"]>("RELAY");
  const [sender, setSender] = useState("");
  const [recipient, setRecipient] = useState("");
  const [comment, setComment] = useState("");
  const [errors, setErrors] = useState<{ network: string | null; sender: string | null; recipient: string | null }>({ network: null, sender: null, recipient: null });
  const confirm = useConfirm();
  const action = useAction();

  const save = (body: RelayRuleCreate): void => {
    void action
      .run(
        () => adminApi.addRelayRule(body),
        (rule) => {
          setNetwork("");
          setSender("");
          setRecipient("");
          setComment("");
          onAdded();
          return t("rel.added", { network: rule.network });
        },
      )
      .then(() => undefined);
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const n = checkNetwork(network);
    const s = sender.trim() ? checkDomainName(sender) : null;
    const r = recipient.trim() ? checkDomainName(recipient) : null;
    const next = { network: n && t(n), sender: s && t(s), recipient: r && t(r) };
    setErrors(next);
    if (next.network || next.sender || next.recipient) return;
    const body: RelayRuleCreate = {
      network: network.trim(),
      action: ruleAction,
      sender_domain: sender.trim(),
      recipient_domain: recipient.trim(),
      comment: comment.trim(),
      force: false,
    };
    void adminApi.addRelayRule(body).then(
      (rule) => {
        action.setError(null);
        setNetwork("");
        setSender("");
        setRecipient("");
        setComment("");
        action.setNote(t("rel.added", { network: rule.network }));
        onAdded();
      },
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 409 && err.code === "relay_too_wide") {
          confirm.ask({ title: t("rel.wideTitle"), text: t("rel.wideConfirm"), ok: t("rel.wideOk"), run: () => save({ ...body, force: true }) });
        } else {
          action.setError(err);
        }
      },
    );
  };

  return (
    <form className="admin-form" onSubmit={submit} noValidate aria-label={t("rel.add")}>
      <h2>{t("rel.add")}</h2>
      <div className="admin-grid">
        <Field label={t("rel.network")} id="rel-net" error={errors.network}>
          {(aria) => <input value={network} onChange={(e) => setNetwork(e.target.value)} maxLength={64} placeholder="192.0.2.0/24" {...aria} />}
        </Field>
        <label className="field">
          <span>{t("rel.action")}</span>
          <select value={ruleAction} onChange={(e) => setRuleAction(e.target.value as RelayRule["action"])}>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <Field label={t("rel.sender")} id="rel-sender" error={errors.sender}>
          {(aria) => <input value={sender} onChange={(e) => setSender(e.target.value)} maxLength={253} {...aria} />}
        </Field>
        <Field label={t("rel.recipient")} id="rel-rcpt" error={errors.recipient}>
          {(aria) => <input value={recipient} onChange={(e) => setRecipient(e.target.value)} maxLength={253} {...aria} />}
        </Field>
        <label className="field">
          <span>{t("rel.comment")}</span>
          <input value={comment} onChange={(e) => setComment(e.target.value)} maxLength={200} />
        </label>
      </div>
      <button type="submit" disabled={action.busy}>
        {t("rel.add")}
      </button>
      <ActionStatus action={action} />
      {confirm.dialog}
    </form>
  );
}

export function RelayRules() {
  const { t } = useAdminT();
  const paged = usePaged(adminApi.relayRules, {});
  const confirm = useConfirm();
  const action = useAction();
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("rel.title")} />
      <p className="help">{t("rel.help")}</p>
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} status={<ActionStatus action={action} />} empty={<Empty k="rel.none" />}>
        {(items) => (
          <table className="admin-table" aria-label={t("rel.title")}>
            <thead>
              <tr>
                <th scope="col">{t("rel.network")}</th>
                <th scope="col">{t("rel.action")}</th>
                <th scope="col">{t("rel.sender")}</th>
                <th scope="col">{t("rel.recipient")}</th>
                <th scope="col">{t("rel.comment")}</th>
                <th scope="col">{t("a.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td className="mono">{r.network}</td>
                  <td>{r.action}</td>
                  <td>{r.sender_domain || t("rel.anyDomain")}</td>
                  <td>{r.recipient_domain || t("rel.anyDomain")}</td>
                  <td>{r.comment}</td>
                  <td>
                    <RemoveButton
                      label={t("rel.remove", { network: r.network })}
                      text={t("rel.removeConfirm", { network: r.network })}
                      ask={confirm.ask}
                      run={() =>
                        void action.run(() => adminApi.removeRelayRule(r.id), () => {
                          paged.reload();
                          return t("rel.removed");
                        })
                      }
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <LoadMore paged={paged} />
      <AddRelayRule onAdded={paged.reload} />
      {confirm.dialog}
    </section>
  );
}
