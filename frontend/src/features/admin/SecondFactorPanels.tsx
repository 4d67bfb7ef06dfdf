// Admin console, 2단계 인증: a domain's requirement (toggle) and an account's reset (a lost
// phone). Both are audited by the server.
import { apiFetch, type Schemas } from "../../api/client";
import { useAdminT } from "./adminMessages";
import { ActionStatus, useAction, useConfirm } from "./common";

const BASE = "/api/v1/admin";

export function DomainSecondFactor({
  name,
  required,
  onChanged,
}: {
  name: string;
  required: boolean;
  onChanged: () => void;
}) {
  const { t } = useAdminT();
  const action = useAction();
  const toggle = (): void => {
    void action.run(
      () => apiFetch("PUT", `${BASE}/domains/${encodeURIComponent(name)}/second-factor`, { body: { require_second_factor: !required } }),
      () => {
        onChanged();
        return t("a.saved");
      },
    );
  };
  return (
    <section className="admin-section" aria-labelledby="dom-tf-h">
      <h2 id="dom-tf-h">{t("tf.title")}</h2>
      <p data-testid="domain-second-factor">{required ? t("tf.domainRequired") : t("tf.domainOptional")}</p>
      <p className="help">{t("tf.domainHelp")}</p>
      <button type="button" disabled={action.busy} onClick={toggle} data-testid="domain-second-factor-toggle">
        {required ? t("tf.unrequire") : t("tf.require")}
      </button>
      <ActionStatus action={action} />
    </section>
  );
}

type Removed = Schemas["FactorsReset"];

export function AccountSecondFactor({
  id,
  address,
  on,
  onChanged,
}: {
  id: number;
  address: string;
  on: boolean;
  onChanged: () => void;
}) {
  const { t } = useAdminT();
  const action = useAction();
  const confirm = useConfirm();
  const reset = (): void => {
    void action.run(
      () => apiFetch<Removed>("DELETE", `${BASE}/accounts/${id}/second-factor`),
      (r) => {
        onChanged();
        return t("tf.resetDone", { totp: r.totp, passkeys: r.passkeys, codes: r.recovery_codes });
      },
    );
  };
  return (
    <section className="admin-section" aria-labelledby="acc-tf-h">
      <h2 id="acc-tf-h">{t("tf.title")}</h2>
      <p data-testid="account-second-factor">{on ? t("tf.accountOn") : t("tf.accountOff")}</p>
      <button
        type="button"
        className="danger"
        disabled={action.busy}
        onClick={() => confirm.ask({ title: t("tf.reset"), text: t("tf.resetConfirm", { address }), ok: t("tf.reset"), run: reset })}
        data-testid="account-second-factor-reset"
      >
        {t("tf.reset")}
      </button>
      <ActionStatus action={action} />
      {confirm.dialog}
    </section>
  );
}
