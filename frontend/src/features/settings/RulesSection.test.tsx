import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderIn } from "../../test/render";
import { json, stubApi } from "./apiStub";
import { RulesSection } from "./RulesSection";

afterEach(() => vi.unstubAllGlobals());

describe("RulesSection", () => {
  it("builds a rule and saves the list; a bad script shows the server's line", async () => {
    const { calls } = stubApi({
      "GET /api/v1/settings/rules": () => json({ rules: [], custom: false, script: "" }),
      "GET /api/v1/folders": () => json({ results: [] }),
      "PUT /api/v1/settings/rules": (req) =>
        json({ ...(req.body as object), custom: false, script: 'fileinto :create "Bills";' }),
      "PUT /api/v1/settings/rules/script": () =>
        json({ error: "sieve_invalid", detail: "line 3, column 1: expected ';' or '{'", line: 3, column: 1 }, 400),
    });
    renderIn("en", <RulesSection />);
    fireEvent.click(await screen.findByTestId("rule-add"));
    fireEvent.change(screen.getByTestId("rule-name"), { target: { value: "bills" } });
    fireEvent.change(screen.getByTestId("rule-field"), { target: { value: "subject" } });
    fireEvent.change(screen.getByTestId("rule-value"), { target: { value: "invoice" } });
    fireEvent.change(screen.getByTestId("rule-action-value"), { target: { value: "Bills" } });
    fireEvent.click(screen.getByTestId("rules-save"));
    await screen.findByText("Saved.");
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({
      rules: [
        {
          name: "bills",
          enabled: true,
          match: "all",
          conditions: [{ field: "subject", op: "contains", value: "invoice", header: "" }],
          actions: [{ type: "move", value: "Bills" }],
        },
      ],
    });
    expect((screen.getByTestId("rules-script") as HTMLTextAreaElement).value).toContain("Bills");
    fireEvent.click(screen.getByTestId("rules-script-save"));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("line 3"));
  });
});
