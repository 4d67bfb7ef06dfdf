// 자동전달: forward every arriving message to one address, keeping a copy here or not.
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { loadForwarding, saveForwarding } from "./rulesApi";
import { useEditable } from "./useEditable";

export function ForwardingSection() {
  const t = useT();
  const { shown, error, saved, change, submit: save } = useEditable(loadForwarding, saveForwarding);

  return (
    <section id="settings-forwarding" className="settings-section" aria-labelledby="settings-forwarding-title">
      <h2 id="settings-forwarding-title">{t("settings.forwarding")}</h2>
      {shown === null ? (
        error !== null ? <ErrorNotice error={error} /> : <p className="loading">{t("loading")}</p>
      ) : (
        <>
          <div className="field">
            <label>
              <input type="checkbox" checked={shown.enabled} onChange={(e) => change({ enabled: e.target.checked })} data-testid="forwarding-enabled" />{" "}
              {t("forwarding.enabled")}
            </label>
          </div>
          <div className="field">
            <label htmlFor="forwarding-address">{t("forwarding.address")}</label>
            <input
              id="forwarding-address"
              type="email"
              value={shown.address}
              onChange={(e) => change({ address: e.target.value })}
              data-testid="forwarding-address"
            />
          </div>
          <div className="field">
            <label>
              <input type="checkbox" checked={shown.keep_copy} onChange={(e) => change({ keep_copy: e.target.checked })} data-testid="forwarding-keep" />{" "}
              {t("forwarding.keepCopy")}
            </label>
          </div>
          <button type="button" onClick={save} data-testid="forwarding-save">
            {t("forwarding.save")}
          </button>
          {error !== null && <ErrorNotice error={error} />}
          {saved && <span role="status">{t("settings.saved")}</span>}
        </>
      )}
    </section>
  );
}
