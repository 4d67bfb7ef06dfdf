// The current locale and its translate function for every component (useT()). The user's
// preference is "ko", "en" or "" (follow the browser); it is cached in localStorage so the
// first paint is already in the right language, and the settings page saves it on the server.
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { LOCALES, type Locale } from "./messages";
import { makeTranslate, pickLocale, type Translate } from "./translate";

/** A chosen language, or "" for the browser's. */
export type LanguagePreference = Locale | "";

interface I18n {
  locale: Locale;
  /** What the user chose; "" when the locale comes from the browser. */
  preference: LanguagePreference;
  t: Translate;
  /** Switches at once; "" goes back to the browser's language. */
  setPreference: (preference: LanguagePreference) => void;
  /** Same as setPreference with a concrete locale (the top bar's quick switch). */
  setLocale: (locale: Locale) => void;
}

export const STORAGE_KEY = "mailroom.locale";

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

export function browserLocale(): Locale {
  const nav = globalThis.navigator;
  if (!nav) return "en";
  return pickLocale(nav.languages.length ? nav.languages : [nav.language]);
}

function storedPreference(): LanguagePreference {
  let stored: string | null = null;
  try {
    stored = globalThis.localStorage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    // Storage disabled (private mode, policy): follow the browser.
  }
  return isLocale(stored) ? stored : "";
}

function savePreference(preference: LanguagePreference): void {
  try {
    if (preference) globalThis.localStorage?.setItem(STORAGE_KEY, preference);
    else globalThis.localStorage?.removeItem(STORAGE_KEY);
  } catch {
    // Not persisted: the choice still applies to this tab.
  }
}

const I18nContext = createContext<I18n>({
  locale: "en",
  preference: "",
  t: makeTranslate("en"),
  setPreference: () => undefined,
  setLocale: () => undefined,
});

export function I18nProvider({ children, locale: fixed }: { children: ReactNode; locale?: Locale }) {
  const [preference, setPreferenceState] = useState<LanguagePreference>(() => fixed ?? storedPreference());
  const locale: Locale = preference || browserLocale();
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo<I18n>(() => {
    const setPreference = (next: LanguagePreference): void => {
      savePreference(next);
      setPreferenceState(next);
    };
    return { locale, preference, t: makeTranslate(locale), setPreference, setLocale: setPreference };
  }, [locale, preference]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}

export function useT(): Translate {
  return useContext(I18nContext).t;
}
