// The strip under the top bar while the vacation reply (부재중 자동응답) is on today, with a
// link to its settings; asked again whenever the screen changes (e.g. back from Settings).
import { useEffect, useState } from "react";
import { useT } from "../../i18n/I18nContext";
import { loadVacation } from "../settings/rulesApi";

export function VacationBanner({ refreshKey, onSettings }: { refreshKey: string; onSettings: () => void }) {
  const t = useT();
  const [active, setActive] = useState(false);
  useEffect(() => {
    const controller = new AbortController();
    loadVacation(controller.signal).then(
      (v) => setActive(Boolean(v.active)),
      () => undefined, // no banner is the safe answer when it cannot be asked
    );
    return () => controller.abort();
  }, [refreshKey]);
  if (!active) return null;
  return (
    <div className="vacation-banner" role="status" data-testid="vacation-banner">
      {t("vacation.banner")}{" "}
      <a
        href="/settings/vacation"
        onClick={(e) => {
          e.preventDefault();
          onSettings();
        }}
      >
        {t("vacation.bannerSettings")}
      </a>
    </div>
  );
}
