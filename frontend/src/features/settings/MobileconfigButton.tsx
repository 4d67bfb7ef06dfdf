// "Set up iPhone, iPad or Mac" (issue 15 item 6): POST /api/v1/settings/mobileconfig makes an
// app password for the device and answers a configuration profile, saved as a download; the
// app password list is then reloaded (the new password shows there and can be revoked).
import { useState } from "react";
import { ApiError, CSRF_COOKIE, readCookie, toError } from "../../api/client";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";

export async function downloadMobileconfig(): Promise<{ blob: Blob; filename: string }> {
  const headers: Record<string, string> = { Accept: "application/json, application/x-apple-aspen-config" };
  const token = readCookie(CSRF_COOKIE);
  if (token) headers["X-CSRFToken"] = token;
  let response: Response;
  try {
    response = await fetch("/api/v1/settings/mobileconfig", { method: "POST", headers, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, "network", err instanceof Error ? err.message : String(err));
  }
  if (!response.ok) throw await toError(response);
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? "mail.mobileconfig";
  return { blob: await response.blob(), filename };
}

function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function MobileconfigButton({ onCreated }: { onCreated: () => void }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const run = (): void => {
    setBusy(true);
    setError(null);
    setDone(false);
    downloadMobileconfig().then(
      ({ blob, filename }) => {
        setBusy(false);
        setDone(true);
        save(blob, filename);
        onCreated();
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };
  return (
    <div className="mobileconfig">
      <p className="help">{t("settings.mobileconfigHelp")}</p>
      <button type="button" onClick={run} disabled={busy} data-testid="mobileconfig-download">
        {t("settings.mobileconfig")}
      </button>
      {done && <span role="status">{t("settings.mobileconfigDone")}</span>}
      {error !== null && <ErrorNotice error={error} />}
    </div>
  );
}
