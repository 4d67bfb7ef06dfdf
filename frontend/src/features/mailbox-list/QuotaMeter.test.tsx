import { screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { QuotaMeter, quotaLevel } from "./QuotaMeter";

function answer(body: object) {
  return vi.spyOn(globalThis, "fetch").mockResolvedValue(
    new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } }),
  );
}

afterEach(() => vi.restoreAllMocks());

describe("QuotaMeter", () => {
  it("shows usage against the quota in Korean", async () => {
    answer({ used_bytes: 10 * 1048576, limit_bytes: 100 * 1048576, percent: 10 });
    renderIn("ko", <QuotaMeter refreshKey={1} />);
    await waitFor(() => expect(screen.getByTestId("quota").textContent).toContain("100 MiB 중 10 MiB 사용 (10%)"));
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("warns from 90 % and says when the mailbox is full", async () => {
    answer({ used_bytes: 95, limit_bytes: 100, percent: 95 });
    renderIn("en", <QuotaMeter refreshKey={1} />);
    await waitFor(() => expect(screen.getByRole("status").textContent).toMatch(/almost full/));
    expect(quotaLevel({ used_bytes: 100, limit_bytes: 100, percent: 100 })).toBe("full");
    expect(quotaLevel({ used_bytes: 5, limit_bytes: 0, percent: 0 })).toBe("ok");
  });

  it("shows only the usage when there is no quota", async () => {
    answer({ used_bytes: 2048, limit_bytes: 0, percent: 0 });
    renderIn("en", <QuotaMeter refreshKey={1} />);
    await waitFor(() => expect(screen.getByTestId("quota").textContent).toBe("2.0 KiB used"));
    expect(screen.queryByRole("progressbar")).toBeNull();
  });
});
