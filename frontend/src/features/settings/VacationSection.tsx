// 부재중 자동응답: dates, subject and text, and how often one sender is answered.
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { loadVacation, saveVacation, type Vacation } from "./rulesApi";
import { useEditable } from "./useEditable";

function store(value: Vacation): Promise<Vacation> {
  const { active: _active, ...input } = value;
  return saveVacation({ ...input, start: input.start || null, end: input.end || null });
}

export function VacationSection({ onSaved }: { onSaved?: (v: Vacation) => void }) {
  const t = useT();
  const { shown, error, saved, change, submit: save } = useEditable(loadVacation, store, onSaved);

  return (
    <section id="settings-vacation" className="settings-section" aria-labelledby="settings-vacation-title">
      <h2 id="settings-vacation-title">{t("settings.vacation")}</h2>
      {shown === null ? (
        error !== null ? <ErrorNotice error={error} /> : <p className="loading">{t("loading")}</p>
      ) : (
        <>
          <div className="field">
            <label>
              <input type="checkbox" checked={shown.enabled} onChange={(e) => change({ enabled: e.target.checked })} data-testid="vacation-enabled" />{" "}
              {t("vacation.enabled")}
            </label>
          </div>
          <div className="field">
            <label htmlFor="vacation-start">{t("vacation.start")}</label>
            <input id="vacation-start" type="date" value={shown.start ?? ""} onChange={(e) => change({ start: e.target.value || null })} />{" "}
            <label htmlFor="vacation-end">{t("vacation.end")}</label>
            <input id="vacation-end" type="date" value={shown.end ?? ""} onChange={(e) => change({ end: e.target.value || null })} />
          </div>
          <div className="field">
            <label htmlFor="vacation-subject">{t("vacation.subject")}</label>
            <input id="vacation-subject" value={shown.subject ?? ""} onChange={(e) => change({ subject: e.target.value })} data-testid="vacation-subject" />
          </div>
          <div className="field">
            <label htmlFor="vacation-body">{t("vacation.body")}</label>
            <textarea id="vacation-body" rows={5} value={shown.body ?? ""} onChange={(e) => change({ body: e.target.value })} data-testid="vacation-body" />
          </div>
          <div className="field">
            <label htmlFor="vacation-days">{t("vacation.days")}</label>
            <input id="vacation-days" type="number" min={1} max={30} value={shown.days ?? 7} onChange={(e) => change({ days: Number(e.target.value) })} />
          </div>
          <button type="button" onClick={save} data-testid="vacation-save">
            {t("vacation.save")}
          </button>
          {error !== null && <ErrorNotice error={error} />}
          {saved && <span role="status">{t("settings.saved")}</span>}
        </>
      )}
    </section>
  );
}
