// Display name and signature. The HTML signature is derived from the text one (escaped, <br>).
import { useState, type FormEvent } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { FieldError } from "./FieldError";
import { fieldErrors, isFieldError } from "./formErrors";
import { saveSettings, type UserSettings } from "./settingsApi";
import { MAX_DISPLAY_NAME_CHARS, MAX_SIGNATURE_CHARS, signatureHtml } from "./signature";

interface Props {
  settings: UserSettings;
  onSaved: (settings: UserSettings) => void;
}

export function ProfileSection({ settings, onSaved }: Props) {
  const t = useT();
  const [displayName, setDisplayName] = useState(settings.display_name);
  const [signature, setSignature] = useState(settings.signature_text);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  const nameErrors =
    displayName.length > MAX_DISPLAY_NAME_CHARS
      ? [t("settings.tooLong", { max: MAX_DISPLAY_NAME_CHARS })]
      : fieldErrors(error, "display_name");
  const html = signatureHtml(signature);
  const signatureTooLong = signature.length > MAX_SIGNATURE_CHARS || html.length > MAX_SIGNATURE_CHARS;
  const signatureErrors = signatureTooLong
      ? [t("settings.tooLong", { max: MAX_SIGNATURE_CHARS })]
      : [...fieldErrors(error, "signature_text"), ...fieldErrors(error, "signature_html")];
  const invalid = displayName.length > MAX_DISPLAY_NAME_CHARS || signatureTooLong;

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    if (invalid) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    saveSettings({
      display_name: displayName.trim(),
      signature_text: signature,
      signature_html: html,
    }).then(
      (next) => {
        setBusy(false);
        setSaved(true);
        setDisplayName(next.display_name);
        onSaved(next);
      },
      (err: unknown) => {
        setBusy(false);
        setError(err);
      },
    );
  };

  return (
    <section id="settings-profile" className="settings-section" aria-labelledby="settings-profile-title">
      <h2 id="settings-profile-title">{t("settings.profile")}</h2>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="settings-display-name">{t("settings.displayName")}</label>
          <input
            id="settings-display-name"
            type="text"
            name="display_name"
            autoComplete="name"
            value={displayName}
            onChange={(e) => {
              setDisplayName(e.target.value);
              setSaved(false);
            }}
            aria-invalid={nameErrors.length > 0}
            aria-describedby="display-name-help display-name-error"
            data-testid="settings-display-name"
          />
          <span className="help" id="display-name-help">
            {t("settings.displayNameHelp", { address: settings.address })}
          </span>
          <FieldError id="display-name-error" messages={nameErrors} />
          {settings.aliases.length > 0 && (
            <p className="help" data-testid="settings-aliases">
              {t("settings.aliases", { addresses: settings.aliases.join(", ") })}
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor="settings-signature">{t("settings.signature")}</label>
          <textarea
            id="settings-signature"
            name="signature"
            rows={5}
            value={signature}
            onChange={(e) => {
              setSignature(e.target.value);
              setSaved(false);
            }}
            aria-invalid={signatureErrors.length > 0}
            aria-describedby="signature-error"
            data-testid="settings-signature"
          />
          <FieldError id="signature-error" messages={signatureErrors} />
        </div>
        {error !== null && !isFieldError(error, ["display_name", "signature_text", "signature_html"]) && (
          <ErrorNotice error={error} />
        )}
        <div className="form-actions">
          <button type="submit" disabled={busy || invalid} data-testid="settings-profile-save">
            {t("settings.save")}
          </button>
          {saved && <span role="status">{t("settings.saved")}</span>}
        </div>
      </form>
    </section>
  );
}
