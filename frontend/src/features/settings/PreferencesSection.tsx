// Language, page size, the remote-image policy, the list's look and the time zone: each applies and saves as soon as it is
// chosen (the language switches the app at once, before the server answers).
import { useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n, type LanguagePreference } from "../../i18n/I18nContext";
import {
  PAGE_SIZES,
  REMOTE_IMAGE_POLICIES,
  saveSettings,
  type PageSize,
  type RemoteImagePolicy,
  type SettingsPatch,
  type UserSettings,
} from "./settingsApi";
import { TrustedSenders } from "./TrustedSenders";
import { browserTimeZone, setTimeZone, timeZoneNames } from "../../lib/timeZone";

interface Props {
  settings: UserSettings;
  onSaved: (settings: UserSettings) => void;
}

const LANGUAGES: readonly LanguagePreference[] = ["", "ko", "en"];

export function PreferencesSection({ settings, onSaved }: Props) {
  const { t, setPreference } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  // Shown at once; put back to the saved value if the server refuses.
  const [shown, setShown] = useState({
    language: settings.language,
    page_size: settings.page_size,
    remote_images: settings.remote_images,
    list_density: settings.list_density,
    reading_mode: settings.reading_mode,
    time_zone: settings.time_zone,
  });
  const zones = timeZoneNames();

  const save = (patch: SettingsPatch): void => {
    const before = shown;
    setShown({ ...shown, ...patch });
    setError(null);
    setSaved(false);
    saveSettings(patch).then(
      (next) => {
        setTimeZone(next.time_zone);
        setSaved(true);
        onSaved(next);
      },
      (err: unknown) => {
        setShown(before);
        if (patch.language !== undefined) setPreference(before.language);
        setError(err);
      },
    );
  };

  const languageName = (l: LanguagePreference): string =>
    l === "" ? t("settings.languageBrowser") : l === "ko" ? "한국어" : "English";

  return (
    <section id="settings-preferences" className="settings-section" aria-labelledby="settings-preferences-title">
      <h2 id="settings-preferences-title">{t("settings.preferences")}</h2>
      <div className="field">
        <label htmlFor="settings-language">{t("settings.language")}</label>
        <select
          id="settings-language"
          value={shown.language}
          onChange={(e) => {
            const language = e.target.value as LanguagePreference;
            setPreference(language);
            save({ language });
          }}
          data-testid="settings-language"
        >
          {LANGUAGES.map((l) => (
            <option key={l || "browser"} value={l}>
              {languageName(l)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="settings-page-size">{t("settings.pageSize")}</label>
        <select
          id="settings-page-size"
          value={shown.page_size}
          onChange={(e) => save({ page_size: Number(e.target.value) as PageSize })}
          data-testid="settings-page-size"
        >
          {PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {t("settings.perPage", { n })}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="settings-remote-images">{t("settings.remoteImages")}</label>
        <select
          id="settings-remote-images"
          value={shown.remote_images}
          onChange={(e) => save({ remote_images: e.target.value as RemoteImagePolicy })}
          aria-describedby="settings-remote-images-help"
          data-testid="settings-remote-images"
        >
          {REMOTE_IMAGE_POLICIES.map((p) => (
            <option key={p} value={p}>
              {t(`settings.remoteImages.${p}`)}
            </option>
          ))}
        </select>
        <span className="help" id="settings-remote-images-help">
          {t("settings.remoteImagesHelp")}
        </span>
      </div>
      <div className="field">
        <label htmlFor="settings-list-density">{t("settings.listDensity")}</label>
        <select
          id="settings-list-density"
          value={shown.list_density}
          onChange={(e) => save({ list_density: e.target.value as UserSettings["list_density"] })}
          data-testid="settings-list-density"
        >
          {(["compact", "comfortable"] as const).map((d) => (
            <option key={d} value={d}>
              {t(`settings.listDensity.${d}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="settings-reading-mode">{t("settings.readingMode")}</label>
        <select
          id="settings-reading-mode"
          value={shown.reading_mode}
          onChange={(e) => save({ reading_mode: e.target.value as UserSettings["reading_mode"] })}
          data-testid="settings-reading-mode"
        >
          {(["split", "list"] as const).map((m) => (
            <option key={m} value={m}>
              {t(`settings.readingMode.${m}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="settings-time-zone">{t("settings.timeZone")}</label>
        <select
          id="settings-time-zone"
          value={shown.time_zone}
          onChange={(e) => save({ time_zone: e.target.value })}
          aria-describedby="settings-time-zone-help"
          data-testid="settings-time-zone"
        >
          <option value="">{t("settings.timeZoneBrowser", { zone: browserTimeZone() })}</option>
          {shown.time_zone !== "" && !zones.includes(shown.time_zone) && (
            <option value={shown.time_zone}>{shown.time_zone}</option>
          )}
          {zones.map((z) => (
            <option key={z} value={z}>
              {z}
            </option>
          ))}
        </select>
        <span className="help" id="settings-time-zone-help">
          {t("settings.timeZoneHelp")}
        </span>
      </div>
      {error !== null && <ErrorNotice error={error} />}
      {saved && <span role="status">{t("settings.saved")}</span>}
      <TrustedSenders />
    </section>
  );
}
