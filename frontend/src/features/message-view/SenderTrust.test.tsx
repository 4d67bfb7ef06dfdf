import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { detail } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { TrustWarnings, VerifiedMark } from "./SenderTrust";

const base = detail().trust;

describe("sender marks", () => {
  it("shows the verified mark only for a DMARC pass", () => {
    const { rerender } = renderIn("en", <VerifiedMark trust={{ ...base, verified: true }} address="a@bank.example" />);
    expect(screen.getByTestId("trust-verified").textContent).toContain("Verified sender");
    expect(screen.getByTestId("trust-verified").title).toContain("bank.example");
    rerender(<VerifiedMark trust={base} address="a@bank.example" />);
    expect(screen.queryByTestId("trust-verified")).toBeNull();
  });

  it("lists every warning in one alert, in Korean too", () => {
    const trust = {
      ...base,
      lookalike: "example.com",
      warnings: ["dmarc_fail", "lookalike_domain", "display_name_address"] as typeof base.warnings,
    };
    renderIn("ko", <TrustWarnings trust={trust} address="ceo@exаmple.com" />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toContain("DMARC 실패");
    expect(screen.getByTestId("trust-lookalike_domain").textContent).toContain("example.com");
    expect(screen.getByTestId("trust-display_name_address").textContent).toContain("ceo@exаmple.com");
  });

  it("shows nothing for a message without findings", () => {
    renderIn("en", <TrustWarnings trust={base} address="a@b.example" />);
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.queryByTestId("trust-unscanned")).toBeNull();
  });
});
