// An API or network failure in words, with an optional retry button.
import { ApiError } from "../api/client";
import { useT } from "../i18n/I18nContext";

export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const t = useT();
  const text =
    error instanceof ApiError && error.code === "network"
      ? t("error.network")
      : t("error.generic", {
          detail: error instanceof ApiError ? error.detail || error.code : String(error),
        });
  return (
    <div className="error" role="alert">
      <span>{text}</span>
      {onRetry && (
        <button type="button" data-testid="error-retry" onClick={onRetry}>
          {t("error.retry")}
        </button>
      )}
    </div>
  );
}
