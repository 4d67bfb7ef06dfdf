// Domains: the list (search, add — superadmin), and one domain: enable/disable and remove
// (superadmin; refused while it has accounts unless forced), catch-all, mail policies (recall,
// forwarding outside), DKIM keys with the DNS record to publish, and a DNS check (MX/SPF/DKIM/DMARC: ok, missing, wrong).
import { useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { adminApi, type DnsReport, type Domain } from "./adminApi";
import { useAdminT } from "./adminMessages";
import { ActionStatus, dnsReasonText, Empty, ErrorBox, Field, Listing, LoadMore, PageHead, Pending, SearchBar, useAction, useConfirm, useLoad, usePaged } from "./common";
import { AdminLink, useAdmin } from "./context";
import { DkimKeys } from "./DkimKeys";
import { MtaSts } from "./MtaSts";
import { checkDomainName, parseTargets } from "./validate";
import { DomainSecondFactor } from "./SecondFactorPanels";

export function Domains({ name }: { name: string | null }) {
  return name === null ? <DomainList /> : <DomainDetail key={name} name={name} />;
}

function AddDomain({ onAdded }: { onAdded: (d: Domain) => void }) {
  const { t } = useAdminT();
  const [name, setName] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const problem = checkDomainName(name);
    setInvalid(problem && t(problem));
    if (problem) return;
    void action.run(
      () => adminApi.addDomain(name.trim()),
      (d) => {
        setName("");
        onAdded(d);
        return t("dom.added", { name: d.name });
      },
    );
  };
  return (
    <form className="admin-form inline" onSubmit={submit} noValidate aria-label={t("dom.add")}>
      <Field label={t("dom.name")} id="dom-name" error={invalid}>
        {(aria) => <input value={name} onChange={(e) => setName(e.target.value)} maxLength={253} {...aria} />}
      </Field>
      <button type="submit" disabled={action.busy}>
        {t("dom.add")}
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function DomainList() {
  const { t } = useAdminT();
  const { isSuper } = useAdmin();
  const [filter, setFilter] = useState("");
  const paged = usePaged(adminApi.domains, { q: filter });
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("dom.title")} />
      <SearchBar label={t("dom.search")} maxLength={253} onSearch={setFilter} />
      {isSuper && <AddDomain onAdded={paged.reload} />}
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} empty={<Empty k="dom.none" />}>
        {(items) => (
          <table className="admin-table" aria-label={t("dom.list")}>
            <thead>
              <tr>
                <th scope="col">{t("dom.name")}</th>
                <th scope="col">{t("a.status")}</th>
                <th scope="col">{t("dom.accounts")}</th>
                <th scope="col">{t("dom.aliases")}</th>
                <th scope="col">{t("dom.catchall")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <td>
                    <AdminLink to={{ page: "domains", name: d.name }}>{d.unicode_name}</AdminLink>
                    {d.unicode_name !== d.name && <span className="muted"> ({d.name})</span>}
                  </td>
                  <td>{d.is_active ? t("dom.active") : t("dom.disabled")}</td>
                  <td>{d.accounts}</td>
                  <td>{d.aliases}</td>
                  <td>{d.catchall ? d.catchall.join(", ") : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <LoadMore paged={paged} />
    </section>
  );
}

function DomainDetail({ name }: { name: string }) {
  const { t } = useAdminT();
  const { isSuper, go } = useAdmin();
  const domain = useLoad((signal) => adminApi.domain(name, signal), name);
  const confirm = useConfirm();
  const action = useAction();

  if (domain.error !== null || domain.data === null) return <Pending load={domain} />;
  const d = domain.data;

  const remove = (force: boolean): void => {
    void adminApi.removeDomain(d.name, force).then(
      () => go({ page: "domains", name: null }),
      (err: unknown) => {
        if (!force && err instanceof ApiError && err.status === 409) {
          confirm.ask({
            title: t("dom.removeForce"),
            text: t("dom.removeForceConfirm", { name: d.name }),
            ok: t("dom.removeForce"),
            run: () => remove(true),
          });
        } else action.setError(err);
      },
    );
  };

  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={d.unicode_name}>
        <AdminLink to={{ page: "domains", name: null }}>{t("dom.list")}</AdminLink>
      </PageHead>
      <dl className="admin-facts">
        <dt>{t("a.status")}</dt>
        <dd>{d.is_active ? t("dom.active") : t("dom.disabled")}</dd>
        <dt>{t("dom.accounts")}</dt>
        <dd>
          <AdminLink to={{ page: "accounts", id: null }}>{d.accounts}</AdminLink>
        </dd>
        <dt>{t("dom.aliases")}</dt>
        <dd>{d.aliases}</dd>
      </dl>
      {isSuper && (
        <div className="admin-buttons">
          <button
            type="button"
            disabled={action.busy}
            onClick={() => void action.run(() => adminApi.patchDomain(d.name, !d.is_active), (nd) => {
              domain.set(nd);
              return t("a.saved");
            })}
          >
            {d.is_active ? t("dom.disable") : t("dom.enable")}
          </button>
          <button
            type="button"
            className="danger"
            onClick={() => confirm.ask({ title: t("dom.remove"), text: t("dom.removeConfirm", { name: d.name }), ok: t("dom.remove"), run: () => remove(false) })}
          >
            {t("dom.remove")}
          </button>
        </div>
      )}
      <ActionStatus action={action} />
      <Catchall domain={d} onChanged={domain.reload} />
      <DomainPolicies name={d.name} />
      <DkimKeys name={d.name} />
      <DomainSecondFactor name={d.name} required={d.require_second_factor} onChanged={domain.reload} />
      <DnsCheck name={d.name} />
      <MtaSts name={d.name} />
      {confirm.dialog}
    </section>
  );
}

function Catchall({ domain, onChanged }: { domain: Domain; onChanged: () => void }) {
  const { t } = useAdminT();
  const [text, setText] = useState((domain.catchall ?? []).join(", "));
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const save = (e: FormEvent): void => {
    e.preventDefault();
    const parsed = parseTargets(text);
    setInvalid(parsed.error && t(parsed.error, { value: parsed.bad, max: 50 }));
    if (parsed.error) return;
    void action.run(() => adminApi.setCatchall(domain.name, parsed.targets), () => {
      onChanged();
      return t("a.saved");
    });
  };
  return (
    <section className="admin-section" aria-labelledby="catchall-h">
      <h2 id="catchall-h">{t("dom.catchall")}</h2>
      <p className="help">{domain.catchall ? t("dom.catchallHelp") : t("dom.catchallNone")}</p>
      <form className="admin-form inline" onSubmit={save} noValidate>
        <Field label={t("dom.catchallTargets")} id="catchall" error={invalid}>
          {(aria) => <input value={text} onChange={(e) => setText(e.target.value)} maxLength={5000} {...aria} />}
        </Field>
        <button type="submit" disabled={action.busy}>
          {t("a.save")}
        </button>
        {domain.catchall && (
          <button
            type="button"
            disabled={action.busy}
            onClick={() => void action.run(() => adminApi.removeCatchall(domain.name), () => {
              setText("");
              onChanged();
              return t("a.saved");
            })}
          >
            {t("dom.catchallRemove")}
          </button>
        )}
      </form>
      <ActionStatus action={action} />
    </section>
  );
}

type PolicyKey = "recall_enabled" | "forward_outside";

/** 발송취소 and 자동전달 outside the domain: allowed, not allowed, or the server's default
 * (null), each saved as soon as it is chosen. */
function DomainPolicies({ name }: { name: string }) {
  const { t } = useAdminT();
  const policy = useLoad((signal) => adminApi.domainPolicy(name, signal), name);
  const action = useAction();
  if (policy.error !== null || policy.data === null) return <Pending load={policy} />;
  const p = policy.data;
  const rows: { key: PolicyKey; label: string; fallback: boolean }[] = [
    { key: "recall_enabled", label: t("dom.policyRecall"), fallback: p.recall_default },
    { key: "forward_outside", label: t("dom.policyForward"), fallback: p.forward_outside_default },
  ];
  const word = (on: boolean): string => (on ? t("dom.policyOn") : t("dom.policyOff"));
  const choose = (key: PolicyKey, value: string): void => {
    const next = value === "" ? null : value === "on";
    void action.run(() => adminApi.patchDomainPolicy(name, { [key]: next }), (np) => {
      policy.set(np);
      return t("a.saved");
    });
  };
  return (
    <section className="admin-section" aria-labelledby="policy-h">
      <h2 id="policy-h">{t("dom.policy")}</h2>
      <p className="help">{t("dom.policyHelp")}</p>
      <div className="admin-form">
        {rows.map(({ key, label, fallback }) => (
          <Field key={key} label={label} id={`policy-${key}`} error={null}>
            {(aria) => (
              <select
                value={p[key] === null ? "" : p[key] ? "on" : "off"}
                disabled={action.busy}
                onChange={(e) => choose(key, e.target.value)}
                data-testid={`policy-${key}`}
                {...aria}
              >
                <option value="">{t("dom.policyDefault", { value: word(fallback) })}</option>
                <option value="on">{word(true)}</option>
                <option value="off">{word(false)}</option>
              </select>
            )}
          </Field>
        ))}
      </div>
      <ActionStatus action={action} />
    </section>
  );
}

export function DnsTable({ report }: { report: DnsReport }) {
  const { t } = useAdminT();
  return (
    <>
      <p className={report.ok ? "admin-ok" : "admin-warn"} role="status">
        {report.ok ? t("dom.dnsOk") : t("dom.dnsProblems")}
      </p>
      <table className="admin-table dns-table" aria-label={t("dom.dns")}>
        <thead>
          <tr>
            <th scope="col">{t("dom.dnsRecord")}</th>
            <th scope="col">{t("dom.dnsName")}</th>
            <th scope="col">{t("dom.dnsExpected")}</th>
            <th scope="col">{t("dom.dnsFound")}</th>
            <th scope="col">{t("dom.dnsStatus")}</th>
          </tr>
        </thead>
        <tbody>
          {report.checks.map((c) => (
            <tr key={`${c.kind}-${c.name}`} className={`dns-${c.status}`}>
              <th scope="row">{c.kind.toUpperCase()}</th>
              <td className="mono">{c.name}</td>
              <td className="mono">{c.expected || "—"}</td>
              <td className="mono">{c.found.length ? c.found.join("\n") : t("dom.dnsNothing")}</td>
              <td>
                <span className={`status status-${c.status}`}>{t(`dom.dns.${c.status}`)}</span>
                {c.reason && <div className="help">{dnsReasonText(t, c.reason)}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function DnsCheck({ name }: { name: string }) {
  const { t } = useAdminT();
  const [report, setReport] = useState<DnsReport | null>(null);
  const action = useAction();
  return (
    <section className="admin-section" aria-labelledby="dns-h">
      <h2 id="dns-h">{t("dom.dns")}</h2>
      <button type="button" disabled={action.busy} onClick={() => void action.run(() => adminApi.dns(name), setReport)}>
        {action.busy ? t("a.working") : t("dom.dnsRun")}
      </button>
      {action.error !== null && <ErrorBox error={action.error} />}
      {report && <DnsTable report={report} />}
    </section>
  );
}
