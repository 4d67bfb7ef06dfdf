// The two settings the shell itself needs: list page size and language ("" = follow the
// browser). Re-read when the settings screen closes; defaults if they cannot be read.
import { useEffect, useState } from "react";
import { getShellSettings } from "../../api/mail";
import { useI18n } from "../../i18n/I18nContext";
import { pickLocale } from "../../i18n/translate";

export const DEFAULT_PAGE_SIZE = 50;

export function browserLocale() {
  const nav = globalThis.navigator;
  return pickLocale(nav ? (nav.languages.length ? nav.languages : [nav.language]) : []);
}

/** `version` changes → read again (after the settings screen). */
export function useShellSettings(version: number): { pageSize: number } {
  const { locale, setLocale } = useI18n();
  const [pageSize, setPageSize] = useState(DEFAULT_PAGE_SIZE);
  useEffect(() => {
    const abort = new AbortController();
    getShellSettings(abort.signal).then(
      (s) => {
        if ([25, 50, 100].includes(s.page_size)) setPageSize(s.page_size);
        const wanted = s.language === "ko" || s.language === "en" ? s.language : browserLocale();
        if (wanted !== locale) setLocale(wanted);
      },
      () => undefined, // defaults stay: the app works without its preferences
    );
    return () => abort.abort();
    // The locale is an output here, not an input.
  }, [version]);
  return { pageSize };
}
