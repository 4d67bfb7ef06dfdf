// The strip under the top bar while the account's sending is held (containment: a burst, many
// bounces or spam refusals, or an admin's hold): why, how much waits, and what to do. Asked
// again whenever the screen changes (e.g. after sending).
import { useEffect, useState } from "react";
import { apiFetch, type Schemas } from "../../api/client";
import { useT } from "../../i18n/I18nContext";

type SendingStatus = Schemas["SendingStatus"];

const REASONS = { burst: "hold.burst", bounces: "hold.bounces", spam: "hold.spam", admin: "hold.admin" } as const;

export function SendingHoldBanner({ refreshKey }: { refreshKey: string }) {
  const t = useT();
  const [status, setStatus] = useState<SendingStatus | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    apiFetch<SendingStatus>("GET", "/api/v1/sending-status", { signal: controller.signal }).then(
      (s) => setStatus(s),
      () => undefined, // no banner when it cannot be asked; sending itself still says "held"
    );
    return () => controller.abort();
  }, [refreshKey]);
  if (!status?.held) return null;
  const reason = REASONS[status.reason as keyof typeof REASONS];
  return (
    <div className="sending-hold-banner" role="alert" data-testid="sending-hold-banner">
      <strong>{t("hold.title")}</strong> {reason ? t(reason) : ""} {t("hold.text", { count: status.held_messages })}
    </div>
  );
}
