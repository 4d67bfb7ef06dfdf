// The admin console (/admin[/…], lazily loaded): a section menu beside one page. Shown only to
// a superadmin or a domain admin, as GET /api/v1/auth/session says; everyone else gets
// "not allowed". The API filters by role too (another domain's objects → 404 → not found).
import { useCallback, useMemo } from "react";
import { getSession } from "../../api/session";
import { useAdminT, type AdminKey } from "./adminMessages";
import { adminPath, parseAdminPath, type AdminPage, type Section } from "./adminPath";
import { ErrorBox, Loading, NotFound, useLoad } from "./common";
import { AdminLink, AdminProvider, type AdminRole } from "./context";
import "./admin.css";

import { Dashboard } from "./Dashboard";
import { Domains } from "./Domains";
import { Accounts } from "./Accounts";
import { Aliases } from "./Aliases";
import { RelayRules } from "./RelayRules";
import { Queue } from "./Queue";
import { DeliveryLog } from "./DeliveryLog";
import { AuditLog } from "./AuditLog";
import { HeldSenders } from "./HeldSenders";

export interface AdminViewProps {
  /** the console's path, like "" or "domains/example.com" */
  path: string;
  onNavigate: (path: string) => void;
}

const SECTIONS: readonly { page: AdminPage; section: Section; key: AdminKey; superOnly?: boolean }[] = [
  { page: { page: "dashboard" }, section: "dashboard", key: "nav.dashboard" },
  { page: { page: "domains", name: null }, section: "domains", key: "nav.domains" },
  { page: { page: "accounts", id: null }, section: "accounts", key: "nav.accounts" },
  { page: { page: "aliases" }, section: "aliases", key: "nav.aliases" },
  { page: { page: "relay" }, section: "relay", key: "nav.relay", superOnly: true },
  { page: { page: "queue", id: null }, section: "queue", key: "nav.queue" },
  { page: { page: "held" }, section: "held", key: "nav.held" },
  { page: { page: "log" }, section: "log", key: "nav.log" },
  { page: { page: "audit" }, section: "audit", key: "nav.audit" },
];

/** The admin rights a session grants, or null for a plain user. */
export function roleOf(session: unknown): AdminRole | null {
  if (typeof session !== "object" || session === null) return null;
  const s = session as { is_superadmin?: unknown; admin_domains?: unknown };
  const domains = Array.isArray(s.admin_domains) ? s.admin_domains.filter((d): d is string => typeof d === "string") : [];
  if (s.is_superadmin === true) return { isSuper: true, domains };
  return domains.length > 0 ? { isSuper: false, domains } : null;
}

export function AdminView({ path, onNavigate }: AdminViewProps) {
  const { t } = useAdminT();
  // Wrapped: a signed-out session answers null, which must not read as "still loading".
  const session = useLoad(async (signal) => ({ user: await getSession(signal) }), "session");
  const page = useMemo(() => parseAdminPath(path), [path]);
  const go = useCallback((to: AdminPage) => onNavigate(adminPath(to)), [onNavigate]);
  const role = session.data === null ? null : roleOf(session.data.user);

  if (session.error !== null) return <ErrorBox error={session.error} onRetry={session.reload} />;
  if (session.data === null) return <Loading />;
  if (role === null) {
    return (
      <section className="admin-page admin-denied" aria-labelledby="admin-denied">
        <h1 id="admin-denied">{t("a.notAllowed")}</h1>
        <p>{t("a.notAllowedText")}</p>
        <a href="/">{t("a.backToMail")}</a>
      </section>
    );
  }

  const current: Section | null = page.page === "unknown" ? null : page.page;
  const hidden = page.page === "relay" && !role.isSuper;
  return (
    <AdminProvider value={{ ...role, go }}>
      <div className="admin-view">
        <nav className="admin-nav" aria-label={t("a.nav")}>
          <p className="admin-title">{t("a.title")}</p>
          <p className="admin-role">{role.isSuper ? t("a.roleSuper") : t("a.roleDomain", { domains: role.domains.join(", ") })}</p>
          <ul>
            {SECTIONS.filter((s) => role.isSuper || !s.superOnly).map((s) => (
              <li key={s.section}>
                <AdminLink to={s.page} current={s.section === current}>
                  {t(s.key)}
                </AdminLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="admin-body">
                      {page.page === "unknown" || hidden ? (
              <NotFound />
            ) : page.page === "dashboard" ? (
              <Dashboard />
            ) : page.page === "domains" ? (
              <Domains name={page.name} />
            ) : page.page === "accounts" ? (
              <Accounts id={page.id} />
            ) : page.page === "aliases" ? (
              <Aliases />
            ) : page.page === "relay" ? (
              <RelayRules />
            ) : page.page === "queue" ? (
              <Queue id={page.id} />
            ) : page.page === "log" ? (
              <DeliveryLog />
            ) : page.page === "held" ? (
              <HeldSenders />
            ) : (
              <AuditLog />
            )}
        </div>
      </div>
    </AdminProvider>
  );
}
