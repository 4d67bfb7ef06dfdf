// Pure helpers: pick a locale, look a key up, fill its {placeholders}.
import { dictionaries, type Locale, type MessageKey } from "./messages";

export type Params = Readonly<Record<string, string | number>>;
export type Translate = (key: MessageKey, params?: Params) => string;

/** Korean for any `ko*` browser language, English otherwise. */
export function pickLocale(languages: readonly string[]): Locale {
  for (const lang of languages) {
    const base = lang.toLowerCase().split("-")[0];
    if (base === "ko" || base === "en") return base;
  }
  return "en";
}

export function makeTranslate(locale: Locale): Translate {
  const dict = dictionaries[locale];
  return (key, params) =>
    dict[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
      params && name in params ? String(params[name]) : whole,
    );
}
