// Mailbox usage under the folders (Gmail's storage meter, Naver's 메일함 용량): "12 MB of 100 MB
// used". Fetched again whenever the folders' message totals change (new mail, deletes).
import { useEffect, useState } from "react";
import { apiFetch, type JsonResponse } from "../../api/client";
import { useT } from "../../i18n/I18nContext";
import { formatSize } from "../../lib/formatSize";

export type Quota = JsonResponse<"/api/v1/quota", "get">;

export function getQuota(signal?: AbortSignal): Promise<Quota> {
  return apiFetch("GET", "/api/v1/quota", signal ? { signal } : {});
}

/** The level the bar shows: warn from 90 % (the server's warning mail), full at 100 %. */
export function quotaLevel(quota: Quota): "ok" | "warn" | "full" {
  if (!quota.limit_bytes) return "ok";
  if (quota.used_bytes >= quota.limit_bytes) return "full";
  return quota.percent >= 90 ? "warn" : "ok";
}

export function QuotaMeter({ refreshKey }: { refreshKey: number }) {
  const t = useT();
  const [quota, setQuota] = useState<Quota | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    // A failed fetch leaves the last figure (or nothing): the meter is informational only.
    getQuota(abort.signal).then(setQuota, () => undefined);
    return () => abort.abort();
  }, [refreshKey]);

  if (quota === null) return null;
  const used = formatSize(quota.used_bytes, t);
  if (!quota.limit_bytes) {
    return (
      <p className="quota-meter" data-testid="quota">
        {t("quota.usedUnlimited", { used })}
      </p>
    );
  }
  const level = quotaLevel(quota);
  const text = t("quota.used", {
    used,
    limit: formatSize(quota.limit_bytes, t),
    percent: Math.round(quota.percent),
  });
  return (
    <div className={`quota-meter quota-${level}`} data-testid="quota">
      <progress max={100} value={Math.min(100, quota.percent)} aria-label={t("quota.label")} aria-valuetext={text} />
      <p>{text}</p>
      {level !== "ok" && <p role="status">{t(level === "full" ? "quota.full" : "quota.warn")}</p>}
    </div>
  );
}
