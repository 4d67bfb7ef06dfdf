// A domain's DKIM keys: each with its state and the TXT record to publish, a form to generate
// one, and, for a pending key (a new key of a domain that signs already), the Activate button
// that switches signing to it. The server refuses (409) while DNS does not show the new record;
// the admin may then activate anyway after a confirmation (force, audited).
import { useState } from "react";
import { ApiError } from "../../api/client";
import { adminApi, type DkimKey } from "./adminApi";
import { useAdminT } from "./adminMessages";
import { ActionStatus, CopyBox, Empty, ErrorBox, Loading, useAction, useConfirm, useLoad } from "./common";

export function DkimKeys({ name }: { name: string }) {
  const { t } = useAdminT();
  const keys = useLoad((signal) => adminApi.dkim(name, signal), name);
  const [algorithm, setAlgorithm] = useState<"rsa" | "ed25519">("rsa");
  const generate = useAction();
  const activate = useAction();
  const confirm = useConfirm();

  const runActivate = (key: DkimKey, force: boolean): void => {
    void adminApi.activateDkim(name, key.selector, force).then(
      (done) => {
        activate.setError(null);
        activate.setNote(
          done.retired.length > 0
            ? t("dom.dkimActivatedRetired", { selector: done.key.selector, retired: done.retired.join(", ") })
            : t("dom.dkimActivated", { selector: done.key.selector }),
        );
        keys.reload();
      },
      (err: unknown) => {
        activate.setNote("");
        if (!force && err instanceof ApiError && err.status === 409 && key.state === "pending") {
          confirm.ask({
            title: t("dom.dkimForceTitle"),
            text: t("dom.dkimForceConfirm"),
            ok: t("dom.dkimForce"),
            run: () => runActivate(key, true),
          });
        } else activate.setError(err);
      },
    );
  };

  const signing = new Set((keys.data?.keys ?? []).filter((k) => k.state === "active").map((k) => k.algorithm));
  const wanted = algorithm === "ed25519" ? "ed25519-sha256" : "rsa-sha256";

  return (
    <section className="admin-section" aria-labelledby="dkim-h">
      <h2 id="dkim-h">{t("dom.dkim")}</h2>
      {keys.error !== null && <ErrorBox error={keys.error} onRetry={keys.reload} />}
      {keys.data === null ? (
        keys.error === null && <Loading />
      ) : keys.data.keys.length === 0 ? (
        <Empty k="dom.dkimNone" />
      ) : (
        keys.data.keys.map((k) => (
          <div key={k.selector} className={`dkim-key dkim-${k.state}`} data-testid={`dkim-key-${k.selector}`}>
            <h3>
              {t("dom.dkimSelector", { selector: k.selector, algorithm: k.algorithm })}
              <span className="badge">{t(`dom.dkimState.${k.state}`)}</span>
            </h3>
            <p className="help">{t(`dom.dkimHelp.${k.state}`)}</p>
            {k.state !== "retired" && <CopyBox label={t("dom.dkimRecord", { selector: k.selector })} value={k.dns_record} multiline />}
            {k.state === "pending" && (
              <button type="button" data-testid={`dkim-activate-${k.selector}`} onClick={() => runActivate(k, false)}>
                {t("dom.dkimActivate")}
              </button>
            )}
          </div>
        ))
      )}
      <ActionStatus action={activate} />
      <form
        className="admin-form inline"
        onSubmit={(e) => {
          e.preventDefault();
          void generate.run(() => adminApi.generateDkim(name, algorithm), () => {
            keys.reload();
          });
        }}
      >
        <label className="field">
          <span>{t("dom.dkimAlgorithm")}</span>
          <select value={algorithm} onChange={(e) => setAlgorithm(e.target.value === "ed25519" ? "ed25519" : "rsa")}>
            <option value="rsa">RSA 2048</option>
            <option value="ed25519">Ed25519</option>
          </select>
        </label>
        <button type="submit" disabled={generate.busy}>
          {generate.busy ? t("a.working") : t("dom.dkimGenerate")}
        </button>
      </form>
      {signing.has(wanted) && <p className="help">{t("dom.dkimRotateHelp")}</p>}
      {generate.error !== null && <ErrorBox error={generate.error} />}
      {confirm.dialog}
    </section>
  );
}
