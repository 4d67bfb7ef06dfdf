// A domain's MTA-STS policy (mode, further MX names, max_age) with the policy file and the two
// TXT records to publish, and the TLS reports (RFC 8460) other senders mailed about it:
// period, reporter, successful and failed sessions, failure details.
import { useState, type FormEvent } from "react";
import { useAdminT } from "./adminMessages";
import { ActionStatus, CopyBox, Empty, ErrorBox, Field, Loading, useAction, useLoad } from "./common";
import { mtastsApi, type MtaSts as Policy, type TlsReport } from "./mtastsApi";

const MODES = ["none", "testing", "enforce"] as const;
type Mode = (typeof MODES)[number];
const MAX_AGE_LIMIT = 31557600;

export function MtaSts({ name }: { name: string }) {
  const { t } = useAdminT();
  const policy = useLoad((signal) => mtastsApi.policy(name, signal), name);
  return (
    <section className="admin-section" aria-labelledby="sts-h" data-testid="mta-sts">
      <h2 id="sts-h">{t("sts.title")}</h2>
      <p className="help">{t("sts.help", { name })}</p>
      {policy.error !== null && <ErrorBox error={policy.error} onRetry={policy.reload} />}
      {policy.data === null ? policy.error === null && <Loading /> : <PolicyForm policy={policy.data} onSaved={policy.set} />}
      <Reports name={name} />
    </section>
  );
}

function PolicyForm({ policy, onSaved }: { policy: Policy; onSaved: (p: Policy) => void }) {
  const { t } = useAdminT();
  const [mode, setMode] = useState<Mode>(policy.mode);
  const [maxAge, setMaxAge] = useState(String(policy.max_age));
  const [extra, setExtra] = useState(policy.extra_mx.join(", "));
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const save = (e: FormEvent): void => {
    e.preventDefault();
    const age = Number(maxAge);
    if (!/^\d+$/.test(maxAge.trim()) || age > MAX_AGE_LIMIT) {
      setInvalid(t("sts.badMaxAge"));
      return;
    }
    setInvalid(null);
    const extra_mx = extra
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    void action.run(
      () => mtastsApi.setPolicy(policy.domain, { mode, max_age: age, extra_mx }),
      (saved) => {
        onSaved(saved);
        return saved.policy_id !== policy.policy_id ? t("sts.idChanged") : t("a.saved");
      },
    );
  };
  return (
    <>
      <form className="admin-form" onSubmit={save} noValidate>
        <Field label={t("sts.mode")} id="sts-mode" error={null}>
          {(aria) => (
            <select value={mode} onChange={(e) => setMode(e.target.value as Mode)} data-testid="sts-mode" {...aria}>
              {MODES.map((m) => (
                <option key={m} value={m}>
                  {t(`sts.mode.${m}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("sts.maxAge")} id="sts-max-age" error={invalid}>
          {(aria) => <input inputMode="numeric" value={maxAge} onChange={(e) => setMaxAge(e.target.value)} {...aria} />}
        </Field>
        <Field label={t("sts.extraMx")} id="sts-extra" error={null}>
          {(aria) => <input value={extra} onChange={(e) => setExtra(e.target.value)} maxLength={5000} {...aria} />}
        </Field>
        <button type="submit" disabled={action.busy} data-testid="sts-save">
          {t("a.save")}
        </button>
      </form>
      <ActionStatus action={action} />
      <dl className="admin-facts">
        <dt>{t("sts.mx")}</dt>
        <dd className="mono">{policy.mx.join(", ")}</dd>
      </dl>
      <CopyBox label={t("sts.stsRecord", { name: policy.domain })} value={policy.sts_record} />
      <CopyBox label={t("sts.tlsrptRecord", { name: policy.domain })} value={policy.tlsrpt_record} />
      <CopyBox label={t("sts.policyText")} value={policy.text} multiline />
    </>
  );
}

function Reports({ name }: { name: string }) {
  const { t } = useAdminT();
  const reports = useLoad((signal) => mtastsApi.reports(name, signal), name);
  return (
    <>
      <h3>{t("sts.reports")}</h3>
      {reports.error !== null && <ErrorBox error={reports.error} onRetry={reports.reload} />}
      {reports.data === null ? (
        reports.error === null && <Loading />
      ) : reports.data.items.length === 0 ? (
        <Empty k="sts.reportsNone" />
      ) : (
        <table className="admin-table" aria-label={t("sts.reports")} data-testid="tls-reports">
          <thead>
            <tr>
              <th scope="col">{t("sts.period")}</th>
              <th scope="col">{t("sts.reporter")}</th>
              <th scope="col">{t("sts.successful")}</th>
              <th scope="col">{t("sts.failed")}</th>
              <th scope="col">{t("sts.failures")}</th>
            </tr>
          </thead>
          <tbody>
            {reports.data.items.map((r) => (
              <ReportRow key={r.id} report={r} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function ReportRow({ report }: { report: TlsReport }) {
  const { t, locale } = useAdminT();
  const when = (iso: string): string => new Date(iso).toLocaleString(locale === "ko" ? "ko-KR" : "en-GB", { timeZone: "UTC" });
  const failures = report.policies.flatMap((p) => p.failures);
  return (
    <tr>
      <td>
        {when(report.start)} – {when(report.end)} UTC
      </td>
      <td>
        {report.organization}
        {report.contact && <div className="muted">{report.contact}</div>}
      </td>
      <td>{report.successful}</td>
      <td>{report.failed}</td>
      <td>
        {failures.length === 0 ? (
          t("sts.noFailures")
        ) : (
          <ul className="plain">
            {failures.map((f, i) => (
              <li key={i}>
                {t("sts.failureLine", {
                  type: f.result_type,
                  count: f.failed_session_count,
                  ip: f.sending_mta_ip || "?",
                  mx: f.receiving_mx_hostname || f.receiving_ip || "?",
                })}
              </li>
            ))}
          </ul>
        )}
      </td>
    </tr>
  );
}
