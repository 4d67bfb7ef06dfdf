// Accounts: the list (search, create with an optional generated password) and one account:
// display name and quota (MB, with a usage bar), enable/disable, set or reset the password,
// app passwords (named, shown once, revocable, last used), and the aliases delivering to it.
import { useState, type FormEvent } from "react";
import { adminApi, type Account, type AppPasswordCreated } from "./adminApi";
import { useAdminT } from "./adminMessages";
import { ActionStatus, Empty, ErrorBox, Field, formatBytes, formatWhen, Listing, LoadMore, NewSecret, PageHead, Pending, SearchBar, useAction, useConfirm, useLoad, usePaged } from "./common";
import { AdminLink, useAdmin } from "./context";
import { bytesToMb, mbToBytes, usagePercent } from "./quota";
import { checkAddress, checkPassword, checkSource } from "./validate";
import { AccountSecondFactor } from "./SecondFactorPanels";

export function Accounts({ id }: { id: number | null }) {
  return id === null ? <AccountList /> : <AccountDetail key={id} id={id} />;
}

export function UsageBar({ used, limit }: { used: number; limit: number }) {
  const { t } = useAdminT();
  const pct = usagePercent(used, limit);
  const text = limit > 0 ? t("acc.usageText", { used: formatBytes(used), limit: formatBytes(limit) }) : t("acc.usageUnlimited", { used: formatBytes(used) });
  return (
    <div className="usage">
      <div className={`usage-bar${pct >= 90 ? " full" : ""}`} role="meter" aria-label={t("acc.usage")} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={text}>
        <span style={{ width: `${pct}%` }} />
      </div>
      <span className="usage-text">{text}</span>
    </div>
  );
}

interface CreateErrors {
  address: string | null;
  password: string | null;
  quota: string | null;
}

export function CreateAccount({ onCreated }: { onCreated: () => void }) {
  const { t } = useAdminT();
  const [address, setAddress] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [quota, setQuota] = useState("0");
  const [errors, setErrors] = useState<CreateErrors>({ address: null, password: null, quota: null });
  const [secret, setSecret] = useState<{ address: string; password: string } | null>(null);
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const a = checkAddress(address);
    const p = checkPassword(password, true);
    const bytes = mbToBytes(quota);
    const next = { address: a && t(a), password: p && t(p), quota: bytes === null ? t("err.quota") : null };
    setErrors(next);
    if (next.address || next.password || next.quota) return;
    setSecret(null);
    void action.run(
      () =>
        adminApi.createAccount({
          address: address.trim(),
          display_name: displayName.trim(),
          is_active: true,
          quota_bytes: bytes,
          ...(password ? { password } : {}),
        }),
      (created) => {
        setAddress("");
        setDisplayName("");
        setPassword("");
        if (created.password) setSecret({ address: created.address, password: created.password });
        onCreated();
        return t("acc.created", { address: created.address });
      },
    );
  };
  return (
    <form className="admin-form" onSubmit={submit} noValidate aria-label={t("acc.create")}>
      <h2>{t("acc.create")}</h2>
      <div className="admin-grid">
        <Field label={t("acc.address")} id="acc-address" error={errors.address}>
          {(aria) => <input value={address} onChange={(e) => setAddress(e.target.value)} maxLength={254} autoComplete="off" {...aria} />}
        </Field>
        <label className="field">
          <span>{t("acc.displayName")}</span>
          <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={200} />
        </label>
        <Field label={t("acc.password")} id="acc-password" error={errors.password} help={t("acc.passwordHelp")}>
          {(aria) => <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" maxLength={1024} {...aria} />}
        </Field>
        <Field label={t("acc.quota")} id="acc-quota" error={errors.quota} help={t("acc.quotaHelp")}>
          {(aria) => <input inputMode="decimal" value={quota} onChange={(e) => setQuota(e.target.value)} maxLength={14} {...aria} />}
        </Field>
      </div>
      <button type="submit" disabled={action.busy}>
        {t("acc.create")}
      </button>
      <ActionStatus action={action} />
      {secret && (
        <NewSecret text={t("acc.generated", { address: secret.address })} label={t("acc.newPassword")} value={secret.password} />
      )}
    </form>
  );
}

function AccountList() {
  const { t } = useAdminT();
  const [filter, setFilter] = useState("");
  const paged = usePaged(adminApi.accounts, { q: filter });
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("acc.title")} />
      <SearchBar label={t("acc.search")} maxLength={254} onSearch={setFilter} />
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} empty={<Empty k="acc.none" />}>
        {(items) => (
          <table className="admin-table" aria-label={t("acc.title")}>
            <thead>
              <tr>
                <th scope="col">{t("acc.address")}</th>
                <th scope="col">{t("acc.displayName")}</th>
                <th scope="col">{t("a.status")}</th>
                <th scope="col">{t("acc.usage")}</th>
                <th scope="col">{t("acc.lastLogin")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <AccountRow key={a.id} a={a} />
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <LoadMore paged={paged} />
      <CreateAccount onCreated={paged.reload} />
    </section>
  );
}

function AccountRow({ a }: { a: Account }) {
  const { t, locale } = useAdminT();
  return (
    <tr>
      <td>
        <AdminLink to={{ page: "accounts", id: a.id }}>{a.address}</AdminLink>
        {a.is_superadmin && <span className="badge">{t("acc.superadmin")}</span>}
      </td>
      <td>{a.display_name}</td>
      <td>{a.is_active ? t("acc.active") : t("acc.disabled")}</td>
      <td>
        <UsageBar used={a.used_bytes} limit={a.quota_bytes} />
      </td>
      <td>{formatWhen(a.last_login, locale, t("a.never"))}</td>
    </tr>
  );
}

function AccountDetail({ id }: { id: number }) {
  const { t, locale } = useAdminT();
  const { go } = useAdmin();
  const account = useLoad((signal) => adminApi.account(id, signal), String(id));
  const confirm = useConfirm();
  const action = useAction();
  if (account.error !== null || account.data === null) return <Pending load={account} />;
  const a = account.data;
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={a.address}>
        <AdminLink to={{ page: "accounts", id: null }}>{t("acc.title")}</AdminLink>
      </PageHead>
      <dl className="admin-facts">
        <dt>{t("a.status")}</dt>
        <dd>{a.is_active ? t("acc.active") : t("acc.disabled")}</dd>
        <dt>{t("acc.lastLogin")}</dt>
        <dd>{formatWhen(a.last_login, locale, t("a.never"))}</dd>
        <dt>{t("a.created")}</dt>
        <dd>{formatWhen(a.created_at, locale, "")}</dd>
        {a.is_superadmin && (
          <>
            <dt>{t("acc.superadmin")}</dt>
            <dd>{t("a.yes")}</dd>
          </>
        )}
        {a.admin_domains.length > 0 && (
          <>
            <dt>{t("acc.adminOf")}</dt>
            <dd>{a.admin_domains.join(", ")}</dd>
          </>
        )}
      </dl>
      <div className="admin-buttons">
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            void action.run(() => adminApi.patchAccount(a.id, { is_active: !a.is_active }), (na) => {
              account.set(na);
              return t("a.saved");
            })
          }
        >
          {a.is_active ? t("acc.disable") : t("acc.enable")}
        </button>
        <button
          type="button"
          className="danger"
          onClick={() =>
            confirm.ask({
              title: t("acc.delete"),
              text: t("acc.deleteConfirm", { address: a.address }),
              ok: t("acc.delete"),
              run: () => void action.run(() => adminApi.deleteAccount(a.id), () => go({ page: "accounts", id: null })),
            })
          }
        >
          {t("acc.delete")}
        </button>
      </div>
      <ActionStatus action={action} />
      <AccountSettings account={a} onSaved={account.set} />
      <PasswordPanel account={a} />
      <AccountSecondFactor id={a.id} address={a.address} on={a.second_factor_on} onChanged={account.reload} />
      <AppPasswords id={a.id} />
      <AccountAliases id={a.id} />
      {confirm.dialog}
    </section>
  );
}

function AccountSettings({ account, onSaved }: { account: Account; onSaved: (a: Account) => void }) {
  const { t } = useAdminT();
  const [displayName, setDisplayName] = useState(account.display_name);
  const [quota, setQuota] = useState(bytesToMb(account.quota_bytes));
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const bytes = mbToBytes(quota);
    setInvalid(bytes === null ? t("err.quota") : null);
    if (bytes === null) return;
    void action.run(() => adminApi.patchAccount(account.id, { display_name: displayName.trim(), quota_bytes: bytes }), (na) => {
      onSaved(na);
      return t("a.saved");
    });
  };
  return (
    <form className="admin-section admin-form" onSubmit={submit} noValidate aria-labelledby="acc-settings-h">
      <h2 id="acc-settings-h">{t("acc.settings")}</h2>
      <UsageBar used={account.used_bytes} limit={account.quota_bytes} />
      <div className="admin-grid">
        <label className="field">
          <span>{t("acc.displayName")}</span>
          <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={200} />
        </label>
        <Field label={t("acc.quota")} id="quota" error={invalid} help={t("acc.quotaHelp")}>
          {(aria) => <input inputMode="decimal" value={quota} onChange={(e) => setQuota(e.target.value)} maxLength={14} {...aria} />}
        </Field>
      </div>
      <button type="submit" disabled={action.busy}>
        {t("a.save")}
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function PasswordPanel({ account }: { account: Account }) {
  const { t } = useAdminT();
  const [password, setPassword] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const [generated, setGenerated] = useState<string | null>(null);
  const confirm = useConfirm();
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const p = checkPassword(password, false);
    setInvalid(p && t(p));
    if (p) return;
    setGenerated(null);
    void action.run(() => adminApi.setPassword(account.id, password), () => {
      setPassword("");
      return t("acc.passwordSet");
    });
  };
  const reset = (): void => {
    setGenerated(null);
    void action.run(() => adminApi.setPassword(account.id, null), (r) => {
      setGenerated(r.password);
      return t("acc.passwordSet");
    });
  };
  return (
    <section className="admin-section" aria-labelledby="acc-pw-h">
      <h2 id="acc-pw-h">{t("acc.password")}</h2>
      <form className="admin-form inline" onSubmit={submit} noValidate>
        <Field label={t("acc.newPassword")} id="pw" error={invalid}>
          {(aria) => <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" maxLength={1024} {...aria} />}
        </Field>
        <button type="submit" disabled={action.busy}>
          {t("acc.setPassword")}
        </button>
        <button
          type="button"
          disabled={action.busy}
          onClick={() => confirm.ask({ title: t("acc.resetPassword"), text: t("acc.resetConfirm", { address: account.address }), ok: t("acc.resetPassword"), run: reset })}
        >
          {t("acc.resetPassword")}
        </button>
      </form>
      <ActionStatus action={action} />
      {generated && (
        <NewSecret text={t("acc.generated", { address: account.address })} label={t("acc.newPassword")} value={generated} />
      )}
      {confirm.dialog}
    </section>
  );
}

function AppPasswords({ id }: { id: number }) {
  const { t, locale } = useAdminT();
  const list = useLoad((signal) => adminApi.appPasswords(id, signal), String(id));
  const [name, setName] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const [created, setCreated] = useState<AppPasswordCreated | null>(null);
  const confirm = useConfirm();
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setInvalid(name.trim() === "" ? t("err.required") : null);
    if (name.trim() === "") return;
    setCreated(null);
    void action.run(() => adminApi.createAppPassword(id, name.trim()), (c) => {
      setName("");
      setCreated(c);
      list.reload();
    });
  };
  return (
    <section className="admin-section" aria-labelledby="acc-ap-h">
      <h2 id="acc-ap-h">{t("acc.appPasswords")}</h2>
      {created && (
        <NewSecret text={t("acc.appSecret", { name: created.name })} label={t("acc.appSecret", { name: created.name })} value={created.password} />
      )}
      <Listing items={list.data} error={list.error} onRetry={list.reload} empty={<Empty k="acc.appPasswordsNone" />}>
        {(items) => (
          <table className="admin-table" aria-label={t("acc.appPasswords")}>
            <thead>
              <tr>
                <th scope="col">{t("acc.appName")}</th>
                <th scope="col">{t("a.created")}</th>
                <th scope="col">{t("acc.lastUsed")}</th>
                <th scope="col">{t("a.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((ap) => (
                <tr key={ap.id}>
                  <td>{ap.name}</td>
                  <td>{formatWhen(ap.created_at, locale, "")}</td>
                  <td>{ap.last_used_at ? t("acc.lastUsedFrom", { when: formatWhen(ap.last_used_at, locale, ""), ip: ap.last_used_ip || "?" }) : t("a.never")}</td>
                  <td>
                    <button
                      type="button"
                      aria-label={`${t("acc.appRevoke")}: ${ap.name}`}
                      onClick={() =>
                        confirm.ask({
                          title: t("acc.appRevoke"),
                          text: t("acc.appRevokeConfirm", { name: ap.name }),
                          ok: t("acc.appRevoke"),
                          run: () => void action.run(() => adminApi.revokeAppPassword(id, ap.id), () => list.reload()),
                        })
                      }
                    >
                      {t("acc.appRevoke")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <form className="admin-form inline" onSubmit={submit} noValidate>
        <Field label={t("acc.appName")} id="ap" error={invalid}>
          {(aria) => <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} {...aria} />}
        </Field>
        <button type="submit" disabled={action.busy}>
          {t("acc.appCreate")}
        </button>
      </form>
      {action.error !== null && <ErrorBox error={action.error} />}
      {confirm.dialog}
    </section>
  );
}

function AccountAliases({ id }: { id: number }) {
  const { t } = useAdminT();
  const list = useLoad((signal) => adminApi.accountAliases(id, signal), String(id));
  const [source, setSource] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const s = checkSource(source);
    setInvalid(s && t(s));
    if (s) return;
    void action.run(() => adminApi.addAccountAlias(id, source.trim()), (al) => {
      setSource("");
      list.reload();
      return t("ali.added", { source: al.source });
    });
  };
  return (
    <section className="admin-section" aria-labelledby="acc-al-h">
      <h2 id="acc-al-h">{t("acc.aliases")}</h2>
      <Listing items={list.data?.items ?? null} error={list.error} onRetry={list.reload} empty={<Empty k="acc.aliasesNone" />}>
        {(items) => (
          <ul className="admin-list">
            {items.map((al) => (
              <li key={al.id}>
                {al.source} → {al.targets.join(", ")}
              </li>
            ))}
          </ul>
        )}
      </Listing>
      <form className="admin-form inline" onSubmit={submit} noValidate>
        <Field label={t("acc.aliasSource")} id="acc-al" error={invalid}>
          {(aria) => <input value={source} onChange={(e) => setSource(e.target.value)} maxLength={254} {...aria} />}
        </Field>
        <button type="submit" disabled={action.busy}>
          {t("acc.aliasAdd")}
        </button>
      </form>
      <ActionStatus action={action} />
    </section>
  );
}
