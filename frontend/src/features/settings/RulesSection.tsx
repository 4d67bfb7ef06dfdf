// 메일 필터: the rule list (conditions and actions, in order), the Sieve script it compiles to
// (editable by advanced users; errors name the line and column), and "apply to existing mail"
// over a folder, with the job's progress polled.
import { useEffect, useState } from "react";
import { listFolders, type Folder } from "../../api/folders";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { RuleEditor } from "./RuleEditor";
import { loadRules, loadRuleJob, saveRules, saveScript, startRuleJob, type Rule, type RuleJob } from "./rulesApi";

const NEW_RULE: Rule = {
  name: "",
  enabled: true,
  match: "all",
  conditions: [{ field: "from", op: "contains", value: "", header: "" }],
  actions: [{ type: "move", value: "" }],
};

export function RulesSection() {
  const t = useT();
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [script, setScript] = useState("");
  const [custom, setCustom] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    loadRules(controller.signal).then(
      (r) => {
        setRules(r.rules);
        setScript(r.script);
        setCustom(r.custom);
      },
      (err: unknown) => !controller.signal.aborted && setError(err),
    );
    return () => controller.abort();
  }, []);

  const update = (n: number, rule: Rule | null): void => {
    if (!rules) return;
    const next = [...rules];
    if (rule === null) next.splice(n, 1);
    else next[n] = rule;
    setRules(next);
    setSaved(false);
  };
  const move = (n: number, by: number): void => {
    if (!rules || n + by < 0 || n + by >= rules.length) return;
    const next = [...rules];
    const [item] = next.splice(n, 1);
    if (item) next.splice(n + by, 0, item);
    setRules(next);
  };
  const save = (): void => {
    if (!rules) return;
    setError(null);
    saveRules(rules).then(
      (r) => {
        setRules(r.rules);
        setScript(r.script);
        setCustom(r.custom);
        setSaved(true);
      },
      setError,
    );
  };
  const saveText = (): void => {
    setError(null);
    saveScript(script).then(
      (r) => {
        setCustom(r.custom);
        setSaved(true);
      },
      setError,
    );
  };

  return (
    <section id="settings-rules" className="settings-section" aria-labelledby="settings-rules-title">
      <h2 id="settings-rules-title">{t("settings.rules")}</h2>
      <p>{t("rules.intro")}</p>
      {rules === null ? (
        error !== null ? <ErrorNotice error={error} /> : <p className="loading">{t("loading")}</p>
      ) : (
        <>
          {custom && <p role="note">{t("rules.custom")}</p>}
          {rules.length === 0 && <p>{t("rules.empty")}</p>}
          <ol className="rule-list" data-testid="rule-list">
            {rules.map((rule, n) => (
              <li key={n} className="rule-item" data-testid="rule-item">
                <RuleEditor rule={rule} index={n} onChange={(r) => update(n, r)} />
                <div className="rule-order">
                  <button type="button" onClick={() => move(n, -1)} disabled={n === 0}>
                    {t("rules.up")}
                  </button>
                  <button type="button" onClick={() => move(n, 1)} disabled={n === rules.length - 1}>
                    {t("rules.down")}
                  </button>
                  <button type="button" onClick={() => update(n, null)} data-testid="rule-remove">
                    {t("rules.remove")}
                  </button>
                </div>
              </li>
            ))}
          </ol>
          <button type="button" onClick={() => setRules([...rules, structuredClone(NEW_RULE)])} data-testid="rule-add">
            {t("rules.add")}
          </button>{" "}
          <button type="button" onClick={save} data-testid="rules-save">
            {t("rules.save")}
          </button>
          {error !== null && <ErrorNotice error={error} />}
          {saved && <span role="status">{t("rules.saved")}</span>}
          <details className="rule-script">
            <summary>{t("rules.script")}</summary>
            <textarea
              value={script}
              onChange={(e) => setScript(e.target.value)}
              rows={12}
              spellCheck={false}
              aria-label={t("rules.script")}
              data-testid="rules-script"
            />
            <button type="button" onClick={saveText} data-testid="rules-script-save">
              {t("rules.scriptSave")}
            </button>
          </details>
          <ApplyToExisting />
        </>
      )}
    </section>
  );
}

function ApplyToExisting() {
  const t = useT();
  const [folders, setFolders] = useState<Folder[]>([]);
  const [folder, setFolder] = useState<number | null>(null);
  const [job, setJob] = useState<RuleJob | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const controller = new AbortController();
    listFolders(controller.signal).then(
      (list) => {
        setFolders(list.results);
        setFolder(list.results[0]?.id ?? null);
      },
      () => undefined,
    );
    return () => controller.abort();
  }, []);

  useEffect(() => {
    if (!job || job.state === "done" || job.state === "failed") return;
    const timer = window.setTimeout(() => {
      loadRuleJob(job.id).then(setJob, setError);
    }, 1000);
    return () => window.clearTimeout(timer);
  }, [job]);

  const run = (): void => {
    if (folder === null) return;
    setError(null);
    startRuleJob(folder).then(setJob, setError);
  };

  return (
    <div className="field rule-apply">
      <label htmlFor="rules-apply-folder">{t("rules.apply")}</label>{" "}
      <select
        id="rules-apply-folder"
        value={folder ?? ""}
        onChange={(e) => setFolder(Number(e.target.value))}
        data-testid="rules-apply-folder"
      >
        {folders.map((f) => (
          <option key={f.id} value={f.id}>
            {f.name}
          </option>
        ))}
      </select>{" "}
      <button type="button" onClick={run} data-testid="rules-apply-run">
        {t("rules.applyRun")}
      </button>
      {job && (
        <span role="status" data-testid="rules-apply-status">
          {job.state === "done"
            ? t("rules.applyDone", { changed: job.changed, total: job.total })
            : t("rules.applyProgress", { done: job.done, total: job.total, changed: job.changed })}
        </span>
      )}
      {error !== null && <ErrorNotice error={error} />}
    </div>
  );
}
