// One rule of the 메일 필터 list: name, on/off, all/any, its conditions and actions.
import { useT } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import {
  ACTION_TYPES,
  CONDITION_FIELDS,
  TEXT_OPS,
  type Condition,
  type Rule,
  type RuleAction,
} from "./rulesApi";

export interface RuleEditorProps {
  rule: Rule;
  index: number;
  onChange: (rule: Rule) => void;
}

function opsFor(field: Condition["field"]): readonly string[] {
  if (field === "size" || field === "spam_score") return ["over", "under"];
  if (field === "attachment" || field === "dmarc") return ["is"];
  return TEXT_OPS;
}

const NEEDS_VALUE = new Set(["move", "keyword", "forward", "reject"]);

export function RuleEditor({ rule, index, onChange }: RuleEditorProps) {
  const t = useT();
  const conditions = rule.conditions;
  const actions = rule.actions;
  const setCondition = (n: number, c: Condition | null): void => {
    const next = [...conditions];
    if (c === null) next.splice(n, 1);
    else next[n] = c;
    onChange({ ...rule, conditions: next });
  };
  const setAction = (n: number, a: RuleAction | null): void => {
    const next = [...actions];
    if (a === null) next.splice(n, 1);
    else next[n] = a;
    onChange({ ...rule, actions: next });
  };
  const id = `rule-${index}`;
  return (
    <fieldset className="rule-editor">
      <legend>
        <input
          aria-label={t("rules.name")}
          placeholder={t("rules.name")}
          value={rule.name ?? ""}
          onChange={(e) => onChange({ ...rule, name: e.target.value })}
          data-testid="rule-name"
        />{" "}
        <label>
          <input
            type="checkbox"
            checked={rule.enabled ?? true}
            onChange={(e) => onChange({ ...rule, enabled: e.target.checked })}
          />{" "}
          {t("rules.enabled")}
        </label>{" "}
        <select
          aria-label={t("rules.match")}
          value={rule.match ?? "all"}
          onChange={(e) => onChange({ ...rule, match: e.target.value as Rule["match"] })}
        >
          <option value="all">{t("rules.match.all")}</option>
          <option value="any">{t("rules.match.any")}</option>
        </select>
      </legend>
      <div role="group" aria-label={t("rules.conditions")}>
        {conditions.map((c, n) => (
          <div className="rule-row" key={`${id}-c${n}`}>
            <select
              aria-label={t("rules.conditions")}
              value={c.field}
              onChange={(e) => {
                const field = e.target.value as Condition["field"];
                setCondition(n, { ...c, field, op: opsFor(field)[0] ?? "contains" });
              }}
              data-testid="rule-field"
            >
              {CONDITION_FIELDS.map((f) => (
                <option key={f} value={f}>
                  {t(`rules.field.${f}` as MessageKey)}
                </option>
              ))}
            </select>
            {c.field === "header" && (
              <input
                aria-label={t("rules.header")}
                placeholder={t("rules.header")}
                value={c.header ?? ""}
                onChange={(e) => setCondition(n, { ...c, header: e.target.value })}
              />
            )}
            {opsFor(c.field).length > 1 && (
              <select
                aria-label={t("rules.match")}
                value={c.op ?? opsFor(c.field)[0]}
                onChange={(e) => setCondition(n, { ...c, op: e.target.value })}
                data-testid="rule-op"
              >
                {opsFor(c.field).map((op) => (
                  <option key={op} value={op}>
                    {t(`rules.op.${op}` as MessageKey)}
                  </option>
                ))}
              </select>
            )}
            {c.field !== "attachment" && (
              <input
                aria-label={t("rules.value")}
                placeholder={c.field === "dmarc" ? "fail" : t("rules.value")}
                value={c.value ?? ""}
                onChange={(e) => setCondition(n, { ...c, value: e.target.value })}
                data-testid="rule-value"
              />
            )}
            <button type="button" onClick={() => setCondition(n, null)}>
              {t("rules.remove")}
            </button>
          </div>
        ))}
        <button
          type="button"
          onClick={() => onChange({ ...rule, conditions: [...conditions, { field: "subject", op: "contains", value: "", header: "" }] })}
        >
          {t("rules.addCondition")}
        </button>
      </div>
      <div role="group" aria-label={t("rules.actions")}>
        {actions.map((a, n) => (
          <div className="rule-row" key={`${id}-a${n}`}>
            <select
              aria-label={t("rules.actions")}
              value={a.type}
              onChange={(e) => setAction(n, { type: e.target.value as RuleAction["type"], value: "" })}
              data-testid="rule-action"
            >
              {ACTION_TYPES.map((type) => (
                <option key={type} value={type}>
                  {t(`rules.action.${type}` as MessageKey)}
                </option>
              ))}
            </select>
            {NEEDS_VALUE.has(a.type) && (
              <input
                aria-label={t("rules.value")}
                value={a.value ?? ""}
                onChange={(e) => setAction(n, { ...a, value: e.target.value })}
                data-testid="rule-action-value"
              />
            )}
            <button type="button" onClick={() => setAction(n, null)}>
              {t("rules.remove")}
            </button>
          </div>
        ))}
        <button type="button" onClick={() => onChange({ ...rule, actions: [...actions, { type: "star", value: "" }] })}>
          {t("rules.addAction")}
        </button>
      </div>
    </fieldset>
  );
}
