// The two settings the shell itself needs: list page size and language ("" = follow the
// browser). Re-read when the settings screen closes; defaults if they cannot be read.
import { useEffect, useState } from "react";
import { getShellSettings } from "../../api/mail";
import { useI18n } from "../../i18n/I18nContext";
import { pickLocale } from "../../i18n/translate";
import { setTimeZone } from "../../lib/timeZone";

export const DEFAULT_PAGE_SIZE = 50;

export function browserLocale() {
  const nav = globalThis.navigator;
  return pickLocale(nav ? (nav.languages.length ? nav.languages : [nav.language]) : []);
}

/** `version` changes → read again (after the settings screen). `pageSize` is null until the
 * first read has settled (answered or failed), so the list is fetched once, at the user's
 * size, rather than at the default and then again. */
export interface ShellPrefs {
  pageSize: number | null;
  listDensity: "compact" | "comfortable";
  readingMode: "split" | "list";
  grouped: boolean;
  setGrouped: (on: boolean) => void;
}

export function useShellSettings(version: number): ShellPrefs {
  const { locale, setLocale } = useI18n();
  const [pageSize, setPageSize] = useState<number | null>(null);
  const [listDensity, setListDensity] = useState<ShellPrefs["listDensity"]>("compact");
  const [readingMode, setReadingMode] = useState<ShellPrefs["readingMode"]>("split");
  const [grouped, setGrouped] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    getShellSettings(abort.signal).then(
      (s) => {
        setTimeZone(s.time_zone);
        setGrouped(s.group_by_conversation === true);
        setPageSize([25, 50, 100].includes(s.page_size) ? s.page_size : (n) => n ?? DEFAULT_PAGE_SIZE);
        setListDensity(s.list_density === "comfortable" ? "comfortable" : "compact");
        setReadingMode(s.reading_mode === "list" ? "list" : "split");
        const wanted = s.language === "ko" || s.language === "en" ? s.language : browserLocale();
        if (wanted !== locale) setLocale(wanted);
      },
      () => {
        // Defaults stay: the app works without its preferences.
        if (!abort.signal.aborted) setPageSize((n) => n ?? DEFAULT_PAGE_SIZE);
      },
    );
    return () => abort.abort();
    // The locale is an output here, not an input.
  }, [version]);
  return { pageSize, listDensity, readingMode, grouped, setGrouped };
}
