import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { I18nProvider, STORAGE_KEY, useI18n, type LanguagePreference } from "./I18nContext";
import { en, ko, type MessageKey } from "./messages";

let api: ReturnType<typeof useI18n> | null = null;

function Probe() {
  api = useI18n();
  return <p data-testid="probe">{`${api.locale}|${api.preference}|${api.t("view.reply")}`}</p>;
}

function browserLanguages(languages: string[]) {
  vi.stubGlobal("navigator", { ...navigator, languages, language: languages[0] ?? "" });
}

beforeEach(() => localStorage.clear());
afterEach(() => {
  vi.unstubAllGlobals();
  api = null;
});

describe("I18nProvider", () => {
  it("follows the browser when nothing was chosen: ko for ko-*, else en", () => {
    browserLanguages(["ko-KR", "en-US"]);
    render(<I18nProvider><Probe /></I18nProvider>);
    expect(screen.getByTestId("probe").textContent).toBe("ko||답장");
    expect(document.documentElement.lang).toBe("ko");
  });

  it("uses the stored choice over the browser, switches at once, and '' goes back", () => {
    browserLanguages(["en-GB"]);
    localStorage.setItem(STORAGE_KEY, "ko");
    render(<I18nProvider><Probe /></I18nProvider>);
    expect(screen.getByTestId("probe").textContent).toBe("ko|ko|답장");
    act(() => api?.setPreference("en"));
    expect(screen.getByTestId("probe").textContent).toBe("en|en|Reply");
    expect(localStorage.getItem(STORAGE_KEY)).toBe("en");
    act(() => api?.setPreference("" as LanguagePreference));
    expect(screen.getByTestId("probe").textContent).toBe("en||Reply");
    expect(localStorage.getItem(STORAGE_KEY)).toBeNull();
  });

  it("ignores a stored value that is not a language", () => {
    browserLanguages(["ja-JP"]);
    localStorage.setItem(STORAGE_KEY, "<script>");
    render(<I18nProvider><Probe /></I18nProvider>);
    expect(screen.getByTestId("probe").textContent).toBe("en||Reply");
  });
});

describe("messages", () => {
  it("has every key in Korean and English with the same placeholders", () => {
    const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();
    expect(Object.keys(ko).sort()).toEqual(Object.keys(en).sort());
    for (const key of Object.keys(en) as MessageKey[]) {
      expect(ko[key], key).toBeTruthy();
      expect(en[key], key).toBeTruthy();
      expect(placeholders(ko[key]), key).toEqual(placeholders(en[key]));
    }
  });
});
