import { act, fireEvent, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import type { Contact } from "./composeApi";
import { RecipientInput, tokensFrom, type Token } from "./RecipientInput";

function Harness({ initial = [], suggest, spy }: { initial?: Token[]; suggest?: (q: string) => Promise<Contact[]>; spy?: (t: Token[]) => void }) {
  const [tokens, setTokens] = useState<Token[]>(initial);
  return (
    <RecipientInput
      label="To"
      tokens={tokens}
      onChange={(next) => {
        setTokens(next);
        spy?.(next);
      }}
      {...(suggest ? { suggest } : {})}
      testId="to"
    />
  );
}

const tokenTexts = (): string[] => screen.queryAllByTestId("recipient-token").map((li) => li.textContent ?? "");

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("RecipientInput", () => {
  it("turns typed addresses into tokens on comma, Enter and blur; invalid ones red with a reason", () => {
    renderIn("en", <Harness />);
    const input = screen.getByRole("combobox", { name: "To" });
    fireEvent.change(input, { target: { value: "bob@example.com" } });
    fireEvent.keyDown(input, { key: "," });
    fireEvent.change(input, { target: { value: "Kim <kim@회사.한국>" } });
    fireEvent.keyDown(input, { key: "Enter" });
    fireEvent.change(input, { target: { value: "not-an-address" } });
    fireEvent.blur(input);
    const tokens = screen.getAllByTestId("recipient-token");
    expect(tokens.map((t) => t.dataset.invalid)).toEqual(["false", "false", "true"]);
    expect(tokens[2]?.textContent).toContain("An address needs an @.");
    expect(screen.getByRole("button", { name: "not-an-address: An address needs an @." })).toBeTruthy();
    expect(input.getAttribute("aria-invalid")).toBe("true");
  });

  it("splits a pasted list and ignores duplicates", () => {
    renderIn("en", <Harness initial={tokensFrom("a@x.kr")} />);
    const input = screen.getByRole("combobox", { name: "To" });
    fireEvent.paste(input, { clipboardData: { getData: () => 'A@X.kr, "Lee, B" <b@x.kr>; c@x.kr' } });
    expect(tokenTexts().map((t) => t.replace("×", ""))).toEqual(["a@x.kr", "Lee, B", "c@x.kr"]);
  });

  it("waits for the Korean input method to finish before taking Enter", () => {
    renderIn("ko", <Harness />);
    const input = screen.getByRole("combobox", { name: "To" });
    fireEvent.change(input, { target: { value: "김" } });
    fireEvent.keyDown(input, { key: "Enter", isComposing: true });
    expect(tokenTexts()).toEqual([]);
  });

  it("removes a token with its button, and Backspace brings the last one back for editing", () => {
    renderIn("en", <Harness initial={tokensFrom("a@x.kr, b@x.kr")} />);
    fireEvent.click(screen.getByRole("button", { name: "Remove a@x.kr" }));
    expect(tokenTexts()).toEqual(["b@x.kr×"]);
    const input = screen.getByRole("combobox", { name: "To" }) as HTMLInputElement;
    fireEvent.keyDown(input, { key: "Backspace" });
    expect(tokenTexts()).toEqual([]);
    expect(input.value).toBe("b@x.kr");
  });

  it("suggests contacts as you type, with arrow keys and Enter to pick", async () => {
    const suggest = vi.fn((q: string) =>
      Promise.resolve<Contact[]>([
        { name: "Bob Lee", address: "bob@example.com", count: 9, contact_id: null, group_id: null, members: 0 },
        { name: "", address: "bobby@example.org", count: 2, contact_id: null, group_id: null, members: 0 },
        { name: "Already", address: "a@x.kr", count: 1, contact_id: null, group_id: null, members: 0 },
      ].filter((c) => c.address.includes(q) || c.name.includes(q) || q === "b")),
    );
    const spy = vi.fn();
    renderIn("en", <Harness initial={tokensFrom("a@x.kr")} suggest={suggest} spy={spy} />);
    const input = screen.getByRole("combobox", { name: "To" });
    fireEvent.change(input, { target: { value: "b" } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(200);
    });
    expect(suggest).toHaveBeenCalledTimes(1);
    expect(suggest.mock.calls[0]?.[0]).toBe("b");
    const options = screen.getAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["Bob Lee bob@example.com", "bobby@example.org"]); // a@x.kr is in already
    expect(input.getAttribute("aria-expanded")).toBe("true");
    fireEvent.keyDown(input, { key: "ArrowDown" });
    fireEvent.keyDown(input, { key: "ArrowDown" });
    fireEvent.keyDown(input, { key: "ArrowUp" });
    expect(input.getAttribute("aria-activedescendant")).toBe(options[0]?.id);
    expect(options[0]?.getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(input, { key: "Enter" });
    const last = spy.mock.calls.at(-1)?.[0] as Token[];
    expect(last.map((t) => [t.name, t.address])).toEqual([
      ["", "a@x.kr"],
      ["Bob Lee", "bob@example.com"],
    ]);
    expect(screen.queryAllByRole("option")).toEqual([]);
  });

  it("closes the suggestions on Escape without picking", async () => {
    const suggest = vi.fn(() => Promise.resolve<Contact[]>([{ name: "", address: "z@x.kr", count: 1, contact_id: null, group_id: null, members: 0 }]));
    renderIn("en", <Harness suggest={suggest} />);
    const input = screen.getByRole("combobox", { name: "To" });
    fireEvent.change(input, { target: { value: "z" } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(200);
    });
    expect(screen.getAllByRole("option")).toHaveLength(1);
    fireEvent.keyDown(input, { key: "Escape" });
    expect(screen.queryAllByRole("option")).toEqual([]);
    expect(tokenTexts()).toEqual([]);
  });

  it("offers a contact group as one recipient, once", async () => {
    const group = { name: "가족", address: "", count: 0, contact_id: null, group_id: 7, members: 3 };
    const suggest = vi.fn(() => Promise.resolve<Contact[]>([group]));
    const spy = vi.fn();
    renderIn("ko", <Harness suggest={suggest} spy={spy} />);
    const input = screen.getByRole("combobox");
    fireEvent.change(input, { target: { value: "가" } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(200);
    });
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["가족 그룹 · 3명"]);
    fireEvent.keyDown(input, { key: "ArrowDown" });
    fireEvent.keyDown(input, { key: "Enter" });
    const last = spy.mock.calls.at(-1)?.[0] as Token[];
    expect(last.map((t) => [t.name, t.address, t.groupId])).toEqual([["가족", "", 7]]);
    expect(tokenTexts()).toEqual(["가족 (그룹)×"]);
    // Typed again: the group is already a recipient, so it is not offered twice.
    fireEvent.change(input, { target: { value: "가" } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(200);
    });
    expect(screen.queryAllByRole("option")).toEqual([]);
  });
});
