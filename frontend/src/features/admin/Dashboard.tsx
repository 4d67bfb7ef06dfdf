// The dashboard: messages in/out per day (an SVG bar chart, no chart library), the queue's
// size and storage per domain and per account.
import { adminApi, type Dashboard as DashboardData } from "./adminApi";
import { type AdminKey, useAdminT } from "./adminMessages";
import { ErrorBox, formatBytes, Loading, PageHead, useLoad } from "./common";
import { AdminLink } from "./context";
import { usagePercent } from "./quota";

const DAYS = 14;
const WARNING_TEXT: Readonly<Record<DashboardData["warnings"][number]["code"], AdminKey>> = {
  postmaster_unrouted: "dash.postmasterUnrouted",
  abuse_unrouted: "dash.abuseUnrouted",
  tls_expiring: "dash.tlsExpiring",
  tls_expired: "dash.tlsExpired",
};

export function TrafficChart({ traffic }: { traffic: DashboardData["traffic"] }) {
  const { t } = useAdminT();
  const max = Math.max(1, ...traffic.map((d) => Math.max(d.inbound, d.outbound)));
  const slot = 36;
  const height = 140;
  const width = Math.max(slot, traffic.length * slot);
  const bar = (n: number): number => Math.round((n / max) * (height - 20));
  return (
    <figure className="admin-chart">
      <svg viewBox={`0 0 ${width} ${height + 18}`} role="img" aria-label={t("dash.chart")} preserveAspectRatio="none">
        {traffic.map((d, i) => {
          const x = i * slot + 4;
          const hi = bar(d.inbound);
          const ho = bar(d.outbound);
          return (
            <g key={d.date}>
              <title>{t("dash.chartRow", { date: d.date, inbound: d.inbound, outbound: d.outbound })}</title>
              <rect className="bar-in" x={x} y={height - hi} width={13} height={hi} />
              <rect className="bar-out" x={x + 14} y={height - ho} width={13} height={ho} />
              <text x={x + 13} y={height + 14} textAnchor="middle">
                {d.date.slice(5)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span className="key key-in" /> {t("dash.in")} <span className="key key-out" /> {t("dash.out")}
      </figcaption>
    </figure>
  );
}

export function Dashboard() {
  const { t } = useAdminT();
  const { data, error, reload } = useLoad((signal) => adminApi.dashboard(DAYS, signal), "dashboard");
  if (error !== null) return <ErrorBox error={error} onRetry={reload} />;
  if (data === null) return <Loading />;
  const inbound = data.traffic.reduce((n, d) => n + d.inbound, 0);
  const outbound = data.traffic.reduce((n, d) => n + d.outbound, 0);
  const figures: [string, number][] = [
    [t("dash.in"), inbound],
    [t("dash.out"), outbound],
    [t("dash.queued"), data.queue.queued],
    [t("dash.held"), data.queue.held],
    [t("dash.deferred"), data.queue.deferred_recipients],
    [t("dash.paused"), data.queue.paused],
  ];
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("dash.title")} />
      <p className="admin-sub">{t("dash.days", { days: DAYS })}</p>
      {data.warnings.length > 0 && (
        <section className="admin-warnings" role="alert" aria-label={t("dash.warnings")} data-testid="dash-warnings">
          <ul>
            {data.warnings.map((w) => (
              <li key={w.address}>
                {t(WARNING_TEXT[w.code], { address: w.address, detail: w.detail })}
              </li>
            ))}
          </ul>
        </section>
      )}
      <dl className="admin-figures">
        {figures.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value.toLocaleString()}</dd>
          </div>
        ))}
      </dl>
      <h2>{t("dash.chart")}</h2>
      {inbound + outbound === 0 ? <p className="empty">{t("dash.noTraffic")}</p> : <TrafficChart traffic={data.traffic} />}
      <div className="admin-two">
        <div>
          <h2>{t("dash.storageDomains")}</h2>
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">{t("a.domain")}</th>
                <th scope="col">{t("dash.accounts")}</th>
                <th scope="col">{t("dash.used")}</th>
              </tr>
            </thead>
            <tbody>
              {data.domains.map((d) => (
                <tr key={d.name}>
                  <td>
                    <AdminLink to={{ page: "domains", name: d.name }}>{d.name}</AdminLink>
                  </td>
                  <td>{d.accounts}</td>
                  <td>{formatBytes(d.used_bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h2>{t("dash.storageAccounts")}</h2>
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">{t("acc.address")}</th>
                <th scope="col">{t("dash.used")}</th>
                <th scope="col">{t("dash.quota")}</th>
              </tr>
            </thead>
            <tbody>
              {data.top_accounts.map((a) => (
                <tr key={a.id}>
                  <td>
                    <AdminLink to={{ page: "accounts", id: a.id }}>{a.address}</AdminLink>
                  </td>
                  <td>
                    {formatBytes(a.used_bytes)}
                    {a.quota_bytes > 0 && <meter min={0} max={100} value={usagePercent(a.used_bytes, a.quota_bytes)} aria-label={t("acc.usage")} />}
                  </td>
                  <td>{a.quota_bytes > 0 ? formatBytes(a.quota_bytes) : t("a.unlimited")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}
