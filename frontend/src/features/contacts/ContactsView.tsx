// 주소록: groups on the left (all, each group with its size, new/rename/delete), the contacts
// of the chosen group on the right with search, add/edit (ContactForm), delete, write mail,
// import (vCard/CSV) and export, and the auto-add setting. Pages along next_cursor.
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { ConfirmDialog } from "../../components/Dialog";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { composeRoute, routeHref } from "../../lib/route";
import { ContactForm } from "./ContactForm";
import {
  createGroup,
  deleteContacts,
  deleteGroup,
  exportUrl,
  getAutoAdd,
  importContacts,
  listContacts,
  listGroups,
  renameGroup,
  setAutoAdd,
  type BookContact,
  type Group,
} from "./contactsApi";
import "./contacts.css";

type Editing = { kind: "new" } | { kind: "edit"; contact: BookContact } | null;
type Confirm = { kind: "contacts"; ids: number[] } | { kind: "group"; group: Group } | null;

export function ContactsView() {
  const t = useT();
  const [groups, setGroups] = useState<Group[]>([]);
  const [group, setGroup] = useState<number | null>(null);
  const [q, setQ] = useState("");
  const [contacts, setContacts] = useState<BookContact[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set());
  const [editing, setEditing] = useState<Editing>(null);
  const [autoAdd, setAutoAddState] = useState<boolean | null>(null);
  const [version, setVersion] = useState(0);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const [groupName, setGroupName] = useState<{ id: number | null; name: string } | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  const reloadGroups = useCallback(() => {
    listGroups().then((r) => setGroups(r.results), setError);
  }, []);
  useEffect(reloadGroups, [reloadGroups, version]);
  useEffect(() => {
    const abort = new AbortController();
    getAutoAdd(abort.signal).then(
      (s) => setAutoAddState(s.contacts_auto_add),
      () => undefined,
    );
    return () => abort.abort();
  }, []);

  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(() => {
      listContacts(q.trim(), group, null, abort.signal).then(
        (page) => {
          setContacts(page.results);
          setCursor(page.next_cursor);
          setSelected(new Set());
          setError(null);
        },
        (e: unknown) => {
          if (!abort.signal.aborted) setError(e);
        },
      );
    }, 150);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [q, group, version]);

  const refresh = (): void => setVersion((n) => n + 1);

  const more = (): void => {
    if (cursor === null) return;
    listContacts(q.trim(), group, cursor).then((page) => {
      setContacts((c) => [...c, ...page.results]);
      setCursor(page.next_cursor);
    }, setError);
  };

  const onImport = (file: File): void => {
    setNotice("");
    importContacts(file).then(
      (r) => {
        setNotice(t("contacts.imported", { created: r.created, updated: r.updated, skipped: r.skipped.length }));
        refresh();
      },
      setError,
    );
  };

  const removeSelected = (): void => {
    if (selected.size > 0) setConfirm({ kind: "contacts", ids: [...selected] });
  };

  const saveGroupName = (e: FormEvent): void => {
    e.preventDefault();
    if (groupName === null || !groupName.name.trim()) return;
    const name = groupName.name.trim();
    (groupName.id === null ? createGroup(name) : renameGroup(groupName.id, name)).then(() => {
      setGroupName(null);
      refresh();
    }, setError);
  };

  const current = groups.find((g) => g.id === group) ?? null;

  return (
    <div className="contacts" data-testid="contacts">
      <h1 className="contacts-title">{t("contacts.title")}</h1>
      <nav className="contact-groups" aria-label={t("contacts.groups")}>
        <ul>
          <li>
            <button type="button" aria-pressed={group === null} onClick={() => setGroup(null)} data-testid="group-all">
              {t("contacts.all")}
            </button>
          </li>
          {groups.map((g) => (
            <li key={g.id}>
              <button type="button" aria-pressed={group === g.id} onClick={() => setGroup(g.id)} data-testid={`group-${g.id}`}>
                <bdi>{g.name}</bdi> <span className="group-size">{g.size}</span>
              </button>
            </li>
          ))}
        </ul>
        {groupName !== null ? (
          <form className="group-name-form" onSubmit={saveGroupName}>
            <input
              value={groupName.name}
              maxLength={100}
              aria-label={t("contacts.groupName")}
              autoFocus
              onChange={(e) => setGroupName({ ...groupName, name: e.target.value })}
              data-testid="group-name"
            />
            <button type="submit" data-testid="group-save">
              {t("contacts.save")}
            </button>
            <button type="button" onClick={() => setGroupName(null)}>
              {t("contacts.cancel")}
            </button>
          </form>
        ) : (
          <button type="button" onClick={() => setGroupName({ id: null, name: "" })} data-testid="new-group">
            {t("contacts.newGroup")}
          </button>
        )}
        {current && groupName === null && (
          <div className="group-actions">
            <button type="button" onClick={() => setGroupName({ id: current.id, name: current.name })}>
              {t("contacts.renameGroup")}
            </button>
            <button type="button" onClick={() => setConfirm({ kind: "group", group: current })}>
              {t("contacts.deleteGroup")}
            </button>
          </div>
        )}
      </nav>
      <section className="contact-main">
        <div className="contact-toolbar">
          <button type="button" onClick={() => setEditing({ kind: "new" })} data-testid="contact-add">
            {t("contacts.add")}
          </button>
          <button type="button" onClick={removeSelected} disabled={selected.size === 0} data-testid="contact-delete">
            {t("contacts.delete")}
          </button>
          <input
            type="search"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            placeholder={t("contacts.search")}
            aria-label={t("contacts.search")}
            data-testid="contact-search"
          />
          <label className="contact-import">
            {t("contacts.import")}
            <input
              ref={fileRef}
              type="file"
              accept=".vcf,.vcard,.csv,text/vcard,text/csv"
              data-testid="contact-import"
              onChange={(e) => {
                const file = e.target.files?.[0];
                if (file) onImport(file);
                e.target.value = "";
              }}
            />
          </label>
          <span className="contact-export">
            {t("contacts.export")}: <a href={exportUrl("vcard")}>{t("contacts.exportVcard")}</a> ·{" "}
            <a href={exportUrl("vcard4")}>{t("contacts.exportVcard4")}</a> · <a href={exportUrl("csv")}>{t("contacts.exportCsv")}</a>
          </span>
        </div>
        {notice && (
          <p role="status" className="contact-notice" data-testid="contact-notice">
            {notice}
          </p>
        )}
        {error !== null && <ErrorNotice error={error} onRetry={() => (setError(null), refresh())} />}
        {editing && (
          <ContactForm
            contact={editing.kind === "edit" ? editing.contact : null}
            groups={groups}
            defaultGroup={group}
            onSaved={() => {
              setEditing(null);
              refresh();
            }}
            onCancel={() => setEditing(null)}
          />
        )}
        <table className="contact-table" data-testid="contact-table">
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label={t("contacts.selectAll")}
                  checked={contacts.length > 0 && selected.size === contacts.length}
                  onChange={(e) => setSelected(e.target.checked ? new Set(contacts.map((c) => c.id)) : new Set())}
                />
              </th>
              <th scope="col">{t("contacts.name")}</th>
              <th scope="col">{t("contacts.address")}</th>
              <th scope="col">{t("contacts.phone")}</th>
              <th scope="col">{t("contacts.company")}</th>
              <th scope="col">{t("contacts.groups")}</th>
              <th scope="col">
                <span className="visually-hidden">{t("contacts.more")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {contacts.map((c) => (
              <tr key={c.id} data-testid={`contact-${c.id}`}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={t("contacts.select", { name: c.name || c.addresses[0] || "" })}
                    checked={selected.has(c.id)}
                    onChange={(e) =>
                      setSelected((s) => {
                        const next = new Set(s);
                        if (e.target.checked) next.add(c.id);
                        else next.delete(c.id);
                        return next;
                      })
                    }
                  />
                </td>
                <td>
                  <bdi>{c.name}</bdi>
                  {c.source === "auto" && <span className="contact-auto"> ({t("contacts.auto")})</span>}
                </td>
                <td>
                  {c.addresses.map((a) => (
                    <div key={a}>
                      <a href={routeHref(composeRoute("new", null, a))}>{a}</a>
                    </div>
                  ))}
                </td>
                <td>{c.phone}</td>
                <td>
                  <bdi>{c.company}</bdi>
                </td>
                <td>{c.groups.map((g) => g.name).join(", ")}</td>
                <td>
                  <button type="button" onClick={() => setEditing({ kind: "edit", contact: c })} data-testid={`contact-edit-${c.id}`}>
                    {t("contacts.edit")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {contacts.length === 0 && error === null && <p className="empty">{t("contacts.empty")}</p>}
        {cursor !== null && (
          <button type="button" onClick={more}>
            {t("list.loadMore")}
          </button>
        )}
        {autoAdd !== null && (
          <label className="contact-autoadd">
            <input
              type="checkbox"
              checked={autoAdd}
              data-testid="contact-autoadd"
              onChange={(e) => {
                const on = e.target.checked;
                setAutoAddState(on);
                setAutoAdd(on).catch((err: unknown) => {
                  setAutoAddState(!on);
                  setError(err);
                });
              }}
            />{" "}
            {t("contacts.autoAdd")}
          </label>
        )}
      </section>
      {confirm !== null && (
        <ConfirmDialog
          title={confirm.kind === "group" ? t("contacts.deleteGroup") : t("contacts.delete")}
          text={
            confirm.kind === "group"
              ? t("contacts.deleteGroupConfirm", { name: confirm.group.name })
              : t("contacts.deleteConfirm", { count: confirm.ids.length })
          }
          confirmLabel={t("contacts.delete")}
          cancelLabel={t("contacts.cancel")}
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            const done = (): void => {
              if (confirm.kind === "group") setGroup(null);
              refresh();
            };
            (confirm.kind === "group" ? deleteGroup(confirm.group.id) : deleteContacts(confirm.ids)).then(done, setError);
            setConfirm(null);
          }}
        />
      )}
    </div>
  );
}
