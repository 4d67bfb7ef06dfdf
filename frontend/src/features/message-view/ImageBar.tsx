// "Images are hidden — Show images | Always show from <sender>": shown above the body when the
// server blocked remote images and nothing allows them yet.
import { useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { singleLine } from "../../lib/plainText";

interface Props {
  count: number;
  /** The sender to offer "Always show from"; "" offers only this message. */
  sender: string;
  onShow: () => void;
  /** Saves the sender as trusted; rejects with the API error. */
  onAlways: () => Promise<unknown>;
}

export function ImageBar({ count, sender, onShow, onAlways }: Props) {
  const t = useT();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const always = (): void => {
    setBusy(true);
    setError(null);
    onAlways().then(
      () => setBusy(false),
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };
  return (
    <div className="image-bar notice" role="region" aria-label={t("view.imagesHidden")} data-testid="image-bar">
      <span>{t("view.imagesHiddenCount", { count })}</span>
      <button type="button" onClick={onShow} data-testid="show-images">
        {t("view.showImages")}
      </button>
      {sender && (
        <button type="button" onClick={always} disabled={busy} data-testid="always-show-images">
          {t("view.alwaysShowFrom", { sender: singleLine(sender) })}
        </button>
      )}
      {error !== null && <ErrorNotice error={error} />}
    </div>
  );
}
