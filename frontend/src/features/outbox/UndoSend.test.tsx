import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../../i18n/I18nContext";
import { json, stubApi } from "../settings/apiStub";
import { UndoSend } from "./UndoSend";

afterEach(() => vi.unstubAllGlobals());

describe("UndoSend", () => {
  it("offers 보내기 취소 while the message is held and hands back the draft", async () => {
    const { calls } = stubApi({ "DELETE /api/v1/outbox/7": () => json({ draft: 42 }) });
    const onUndone = vi.fn();
    const sendAt = new Date(Date.now() + 10_000).toISOString();
    render(
      <I18nProvider locale="ko">
        <UndoSend outbox={{ id: 7, send_at: sendAt, scheduled: false }} onUndone={onUndone} />
      </I18nProvider>,
    );
    fireEvent.click(screen.getByRole("button", { name: "보내기 취소" }));
    await waitFor(() => expect(onUndone).toHaveBeenCalledWith(42));
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/outbox/7")).toBe(true);
  });

  it("shows the time of a scheduled message and no undo button", () => {
    render(
      <I18nProvider locale="en">
        <UndoSend outbox={{ id: 1, send_at: "2030-01-02T03:04:00Z", scheduled: true }} onUndone={vi.fn()} />
      </I18nProvider>,
    );
    expect(screen.getByTestId("outbox-scheduled").textContent).toContain("Scheduled for");
    expect(screen.queryByRole("button")).toBeNull();
  });
});
