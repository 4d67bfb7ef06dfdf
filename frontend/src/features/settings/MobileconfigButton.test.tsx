import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, stubApi } from "./apiStub";
import { MobileconfigButton } from "./MobileconfigButton";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("MobileconfigButton", () => {
  it("downloads the profile under the server's file name and reloads the app passwords", async () => {
    document.cookie = "csrftoken=tok123";
    const { calls, mock } = stubApi({
      "POST /api/v1/settings/mobileconfig": () =>
        new Response("<plist/>", {
          headers: {
            "Content-Type": "application/x-apple-aspen-config",
            "Content-Disposition": 'attachment; filename="ann_at_a.example.mobileconfig"',
          },
        }),
    });
    const saved: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download);
    });
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: () => "blob:x", revokeObjectURL: () => undefined }));
    const onCreated = vi.fn();
    renderIn("en", <MobileconfigButton onCreated={onCreated} />);
    fireEvent.click(screen.getByRole("button", { name: "Set up iPhone, iPad or Mac" }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledTimes(1));
    expect(saved).toEqual(["ann_at_a.example.mobileconfig"]);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["POST /api/v1/settings/mobileconfig"]);
    const headers = mock.mock.calls[0]?.[1]?.headers as Record<string, string>;
    expect(headers["X-CSRFToken"]).toBe("tok123");
    expect(screen.getByRole("status").textContent).toContain("Profile downloaded");
  });

  it("says why when the server refuses (too many app passwords)", async () => {
    stubApi({
      "POST /api/v1/settings/mobileconfig": () =>
        json({ error: "app_password_limit", detail: "an account has at most 20 app passwords; revoke one first" }, 409),
    });
    const onCreated = vi.fn();
    renderIn("en", <MobileconfigButton onCreated={onCreated} />);
    fireEvent.click(screen.getByRole("button", { name: "Set up iPhone, iPad or Mac" }));
    await screen.findByRole("alert");
    expect(onCreated).not.toHaveBeenCalled();
  });
});
