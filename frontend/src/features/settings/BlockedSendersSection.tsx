// 수신차단: the addresses and domains whose mail is refused (at SMTP) or deleted on arrival.
import { useEffect, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { blockSender, loadBlocked, unblockSender, type BlockedSender } from "./rulesApi";

export function BlockedSendersSection() {
  const t = useT();
  const [rows, setRows] = useState<BlockedSender[] | null>(null);
  const [value, setValue] = useState("");
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const controller = new AbortController();
    loadBlocked(controller.signal).then(setRows, (err: unknown) => !controller.signal.aborted && setError(err));
    return () => controller.abort();
  }, []);

  const add = (): void => {
    setError(null);
    blockSender(value).then((row) => {
      setRows((prev) => [...(prev ?? []).filter((r) => r.id !== row.id), row].sort((a, b) => a.value.localeCompare(b.value)));
      setValue("");
    }, setError);
  };
  const remove = (row: BlockedSender): void => {
    unblockSender(row.id).then(() => setRows((prev) => (prev ?? []).filter((r) => r.id !== row.id)), setError);
  };

  return (
    <section id="settings-blocked" className="settings-section" aria-labelledby="settings-blocked-title">
      <h2 id="settings-blocked-title">{t("settings.blocked")}</h2>
      <p>{t("blocked.intro")}</p>
      <form
        className="field"
        onSubmit={(e) => {
          e.preventDefault();
          add();
        }}
      >
        <input
          aria-label={t("blocked.value")}
          placeholder="spam@example.com, example.com"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          data-testid="blocked-value"
        />{" "}
        <button type="submit" data-testid="blocked-add">
          {t("blocked.add")}
        </button>
      </form>
      {error !== null && <ErrorNotice error={error} />}
      {rows !== null && rows.length === 0 && <p>{t("blocked.empty")}</p>}
      <ul data-testid="blocked-list">
        {(rows ?? []).map((row) => (
          <li key={row.id}>
            {row.value}{" "}
            <button type="button" onClick={() => remove(row)}>
              {t("blocked.remove")}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
