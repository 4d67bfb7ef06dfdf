// Add or edit one contact: name, addresses (one per line), phone, company, memo, groups.
// The server checks everything again; its field errors show under the fields.
import { useId, useState, type FormEvent } from "react";
import { ApiError } from "../../api/client";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { FieldError } from "../settings/FieldError";
import { createContact, updateContact, type BookContact, type ContactInput, type Group } from "./contactsApi";

interface Props {
  contact: BookContact | null;
  groups: readonly Group[];
  defaultGroup: number | null;
  onSaved: (contact: BookContact) => void;
  onCancel: () => void;
  save?: (id: number | null, body: ContactInput) => Promise<BookContact>;
}

const defaultSave = (id: number | null, body: ContactInput): Promise<BookContact> =>
  id === null ? createContact(body) : updateContact(id, body);

export function ContactForm({ contact, groups, defaultGroup, onSaved, onCancel, save = defaultSave }: Props) {
  const t = useT();
  const id = useId();
  const [name, setName] = useState(contact?.name ?? "");
  const [addresses, setAddresses] = useState((contact?.addresses ?? []).join("\n"));
  const [phone, setPhone] = useState(contact?.phone ?? "");
  const [company, setCompany] = useState(contact?.company ?? "");
  const [memo, setMemo] = useState(contact?.memo ?? "");
  const [chosen, setChosen] = useState<ReadonlySet<number>>(
    new Set(contact ? contact.groups.map((g) => g.id) : defaultGroup !== null ? [defaultGroup] : []),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const fieldErrors = (field: string): string[] => {
    if (!(error instanceof ApiError)) return [];
    const value = error.fields[field];
    return Array.isArray(value) ? value.map(String) : [];
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: ContactInput = {
      name: name.trim(),
      addresses: addresses
        .split(/[\n,;]+/)
        .map((a) => a.trim())
        .filter(Boolean),
      phone: phone.trim(),
      company: company.trim(),
      memo,
      groups: [...chosen],
    };
    save(contact?.id ?? null, body).then(
      (saved) => {
        setBusy(false);
        onSaved(saved);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  const field = (key: string, label: string, value: string, set: (v: string) => void, multiline = false) => (
    <div className="contact-field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      {multiline ? (
        <textarea id={`${id}-${key}`} value={value} onChange={(e) => set(e.target.value)} rows={3} data-testid={`contact-${key}`} />
      ) : (
        <input id={`${id}-${key}`} value={value} onChange={(e) => set(e.target.value)} data-testid={`contact-${key}`} />
      )}
      <FieldError id={`${id}-${key}-error`} messages={fieldErrors(key)} />
    </div>
  );

  return (
    <form className="contact-form" onSubmit={submit} data-testid="contact-form">
      {field("name", t("contacts.name"), name, setName)}
      {field("addresses", t("contacts.addresses"), addresses, setAddresses, true)}
      {field("phone", t("contacts.phone"), phone, setPhone)}
      {field("company", t("contacts.company"), company, setCompany)}
      {field("memo", t("contacts.memo"), memo, setMemo, true)}
      {groups.length > 0 && (
        <fieldset className="contact-field">
          <legend>{t("contacts.groups")}</legend>
          {groups.map((g) => (
            <label key={g.id} className="contact-group-choice">
              <input
                type="checkbox"
                checked={chosen.has(g.id)}
                onChange={(e) =>
                  setChosen((s) => {
                    const next = new Set(s);
                    if (e.target.checked) next.add(g.id);
                    else next.delete(g.id);
                    return next;
                  })
                }
              />{" "}
              <bdi>{g.name}</bdi>
            </label>
          ))}
        </fieldset>
      )}
      {error !== null && !(error instanceof ApiError && Object.keys(error.fields).length > 0) && <ErrorNotice error={error} />}
      <div className="contact-form-actions">
        <button type="submit" disabled={busy} data-testid="contact-save">
          {t("contacts.save")}
        </button>
        <button type="button" onClick={onCancel}>
          {t("contacts.cancel")}
        </button>
      </div>
    </form>
  );
}
