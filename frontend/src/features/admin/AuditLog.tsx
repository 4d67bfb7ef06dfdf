// The audit log: who did what to which object, when and from where (newest first).
import { useState, type FormEvent } from "react";
import { adminApi } from "./adminApi";
import { useAdminT } from "./adminMessages";
import { Empty, formatWhen, Listing, LoadMore, PageHead, usePaged } from "./common";

export function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("; ");
}

export function AuditLog() {
  const { t, locale } = useAdminT();
  const [draft, setDraft] = useState({ actor: "", action: "", target: "" });
  const [filters, setFilters] = useState(draft);
  const paged = usePaged(adminApi.auditLog, { ...filters });
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setFilters(draft);
  };
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("aud.title")} />
      <form role="search" className="admin-form admin-filters" onSubmit={submit}>
        {(["actor", "action", "target"] as const).map((name) => (
          <label className="field" key={name}>
            <span>{t(`aud.${name}`)}</span>
            <input type="search" value={draft[name]} onChange={(e) => setDraft((d) => ({ ...d, [name]: e.target.value }))} maxLength={254} />
          </label>
        ))}
        <div className="form-buttons">
          <button type="submit">{t("a.filter")}</button>
        </div>
      </form>
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} empty={<Empty k="aud.none" />}>
        {(items) => (
          <table className="admin-table" aria-label={t("aud.title")}>
            <thead>
              <tr>
                <th scope="col">{t("aud.when")}</th>
                <th scope="col">{t("aud.actor")}</th>
                <th scope="col">{t("aud.action")}</th>
                <th scope="col">{t("aud.target")}</th>
                <th scope="col">{t("a.domain")}</th>
                <th scope="col">{t("aud.ip")}</th>
                <th scope="col">{t("aud.detail")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id}>
                  <td>{formatWhen(a.created_at, locale, "")}</td>
                  <td>{a.actor}</td>
                  <td className="mono">{a.action}</td>
                  <td>{a.target}</td>
                  <td>{a.domain}</td>
                  <td className="mono">{a.ip}</td>
                  <td className="wrap">{detailText(a.detail)}</td>
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
