// The current locale and its translate function for every component (useT()).
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { LOCALES, type Locale } from "./messages";
import { makeTranslate, pickLocale, type Translate } from "./translate";

interface I18n {
  locale: Locale;
  t: Translate;
  setLocale: (locale: Locale) => void;
}

const STORAGE_KEY = "mailroom.locale";

function initialLocale(): Locale {
  const stored = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (stored && (LOCALES as readonly string[]).includes(stored)) return stored as Locale;
  const nav = globalThis.navigator;
  return pickLocale(nav ? (nav.languages.length ? nav.languages : [nav.language]) : []);
}

const I18nContext = createContext<I18n>({
  locale: "en",
  t: makeTranslate("en"),
  setLocale: () => undefined,
});

export function I18nProvider({ children, locale: fixed }: { children: ReactNode; locale?: Locale }) {
  const [locale, setLocaleState] = useState<Locale>(() => fixed ?? initialLocale());
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo<I18n>(
    () => ({
      locale,
      t: makeTranslate(locale),
      setLocale: (next) => {
        globalThis.localStorage?.setItem(STORAGE_KEY, next);
        setLocaleState(next);
      },
    }),
    [locale],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}

export function useT(): Translate {
  return useContext(I18nContext).t;
}
