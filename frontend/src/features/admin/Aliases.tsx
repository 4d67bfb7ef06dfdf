// Aliases: one address → many targets (local accounts or external forwards), the catch-all
// "@domain" and the system aliases (root@, postmaster@…). A loop is refused by the server
// when saved; its refusal is shown in words.
import { useState, type FormEvent } from "react";
import { adminApi, type Alias } from "./adminApi";
import { useAdminT } from "./adminMessages";
import { ActionStatus, Empty, ErrorBox, Field, FieldError, Listing, LoadMore, PageHead, RemoveButton, SearchBar, useAction, useConfirm, usePaged } from "./common";
import { checkSource, MAX_TARGETS, parseTargets } from "./validate";

interface Errors {
  source: string | null;
  targets: string | null;
}

export function AddAlias({ onAdded }: { onAdded: () => void }) {
  const { t } = useAdminT();
  const [source, setSource] = useState("");
  const [targets, setTargets] = useState("");
  const [errors, setErrors] = useState<Errors>({ source: null, targets: null });
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const s = checkSource(source);
    const parsed = parseTargets(targets);
    const next = { source: s && t(s), targets: parsed.error && t(parsed.error, { value: parsed.bad, max: MAX_TARGETS }) };
    setErrors(next);
    if (next.source || next.targets) return;
    void action.run(
      () => adminApi.addAlias(source.trim(), parsed.targets),
      (al) => {
        setSource("");
        setTargets("");
        onAdded();
        return t("ali.added", { source: al.source });
      },
    );
  };
  return (
    <form className="admin-form" onSubmit={submit} noValidate aria-label={t("ali.add")}>
      <h2>{t("ali.add")}</h2>
      <div className="admin-grid">
        <Field label={t("ali.source")} id="ali-source" error={errors.source}>
          {(aria) => <input value={source} onChange={(e) => setSource(e.target.value)} maxLength={254} {...aria} />}
        </Field>
        <Field label={t("ali.targets")} id="ali-targets" error={errors.targets} help={t("ali.targetsHelp")}>
          {(aria) => <textarea value={targets} onChange={(e) => setTargets(e.target.value)} rows={3} maxLength={20000} {...aria} />}
        </Field>
      </div>
      <button type="submit" disabled={action.busy}>
        {t("ali.add")}
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

function EditTargets({ alias, onSaved, onCancel }: { alias: Alias; onSaved: () => void; onCancel: () => void }) {
  const { t } = useAdminT();
  const [text, setText] = useState(alias.targets.join(", "));
  const [invalid, setInvalid] = useState<string | null>(null);
  const action = useAction();
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const parsed = parseTargets(text);
    setInvalid(parsed.error && t(parsed.error, { value: parsed.bad, max: MAX_TARGETS }));
    if (parsed.error) return;
    void action.run(() => adminApi.updateAlias(alias.id, parsed.targets), () => onSaved());
  };
  const errId = `ali-edit-err-${alias.id}`;
  return (
    <form className="admin-form inline" onSubmit={submit} noValidate>
      <input value={text} onChange={(e) => setText(e.target.value)} aria-label={t("ali.edit", { source: alias.source })} maxLength={20000} aria-invalid={invalid !== null} aria-describedby={errId} />
      <button type="submit" disabled={action.busy}>
        {t("a.save")}
      </button>
      <button type="button" onClick={onCancel}>
        {t("a.cancel")}
      </button>
      <FieldError id={errId} text={invalid} />
      {action.error !== null && <ErrorBox error={action.error} />}
    </form>
  );
}

export function Aliases() {
  const { t } = useAdminT();
  const [filter, setFilter] = useState("");
  const [editing, setEditing] = useState<number | null>(null);
  const confirm = useConfirm();
  const paged = usePaged(adminApi.aliases, { q: filter });
  const action = useAction();
  return (
    <section className="admin-page" aria-labelledby="admin-h">
      <PageHead title={t("ali.title")} />
      <p className="help">{t("ali.systemHelp")}</p>
      <SearchBar label={t("ali.search")} maxLength={254} onSearch={setFilter} />
      <Listing items={paged.items} error={paged.error} onRetry={paged.reload} status={<ActionStatus action={action} />} empty={<Empty k="ali.none" />}>
        {(items) => (
          <table className="admin-table" aria-label={t("ali.title")}>
            <thead>
              <tr>
                <th scope="col">{t("ali.source")}</th>
                <th scope="col">{t("ali.targets")}</th>
                <th scope="col">{t("a.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((al) => (
                <tr key={al.id}>
                  <td>
                    {al.source}
                    {al.is_system && <span className="badge">{t("ali.system")}</span>}
                    {al.is_catchall && <span className="badge">{t("ali.catchall")}</span>}
                  </td>
                  <td>
                    {editing === al.id ? (
                      <EditTargets
                        alias={al}
                        onCancel={() => setEditing(null)}
                        onSaved={() => {
                          setEditing(null);
                          paged.reload();
                        }}
                      />
                    ) : (
                      <ul className="targets">
                        {al.targets.map((target) => (
                          <li key={target}>
                            {target}
                            {al.external_targets.includes(target) && <span className="badge external">{t("ali.external")}</span>}
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>
                    <span className="row-actions">
                      <button type="button" onClick={() => setEditing(al.id)} aria-label={t("ali.edit", { source: al.source })}>
                        ✎
                      </button>
                      <RemoveButton
                        label={t("ali.remove", { source: al.source })}
                        text={t("ali.removeConfirm", { source: al.source })}
                        ask={confirm.ask}
                        run={() =>
                          void action.run(() => adminApi.removeAlias(al.id), () => {
                            paged.reload();
                            return t("ali.removed", { source: al.source });
                          })
                        }
                      />
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Listing>
      <LoadMore paged={paged} />
      <AddAlias onAdded={paged.reload} />
      {confirm.dialog}
    </section>
  );
}
