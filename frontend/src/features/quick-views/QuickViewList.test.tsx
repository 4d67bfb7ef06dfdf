import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { QuickViewList } from "./QuickViewList";

afterEach(() => vi.restoreAllMocks());

describe("QuickViewList", () => {
  it("links the three views with their counts, in Korean", async () => {
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(
      new Response(JSON.stringify({ unread: 12, flagged: 3, has_attachments: 0 }), {
        status: 200,
        headers: { "Content-Type": "application/json" },
      }),
    );
    const onSelect = vi.fn();
    renderIn("ko", <QuickViewList selected="flagged" refreshKey={1} onSelect={onSelect} />);
    const unread = screen.getByRole("link", { name: /안읽은메일/ });
    expect(unread.getAttribute("href")).toBe("/views/unread");
    await waitFor(() => expect(unread.textContent).toContain("12"));
    const starred = screen.getByRole("link", { name: /중요메일/ });
    expect(starred.getAttribute("aria-current")).toBe("page");
    expect(starred.textContent).toContain("3");
    expect(screen.getByRole("link", { name: /첨부메일/ }).textContent).toBe("첨부메일"); // 0: no number
    expect(String(fetch.mock.calls[0]?.[0])).toContain("/api/v1/messages/counts");
    fireEvent.click(unread);
    expect(onSelect).toHaveBeenCalledWith("unread");
  });

  it("still links the views when the counts cannot be read", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("offline"));
    renderIn("en", <QuickViewList selected={null} refreshKey={1} onSelect={vi.fn()} />);
    expect(screen.getByRole("link", { name: /With attachments/ }).getAttribute("href")).toBe("/views/attachments");
  });
});
