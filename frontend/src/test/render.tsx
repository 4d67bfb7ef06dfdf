// Renders a component under a fixed locale, as the app would.
import { render, type RenderResult } from "@testing-library/react";
import type { ReactElement } from "react";
import { I18nProvider } from "../i18n/I18nContext";
import type { Locale } from "../i18n/messages";

export function renderIn(locale: Locale, ui: ReactElement): RenderResult {
  return render(<I18nProvider locale={locale}>{ui}</I18nProvider>);
}
