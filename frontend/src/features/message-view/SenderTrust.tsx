// The sender marks of the reading pane (issue 13 §1): a verified-sender badge when the From
// domain passed DMARC, and one clear warning box listing what is wrong otherwise (DMARC failed,
// a look-alike of one of our domains, a display name carrying another address). The server
// decides (message.trust, computed from our own Authentication-Results); this only shows it.
import type { ReadableMessage } from "./readingApi";
import { useT } from "../../i18n/I18nContext";

type Trust = ReadableMessage["trust"];

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1);
}

export function VerifiedMark({ trust, address }: { trust: Trust; address: string }) {
  const t = useT();
  if (!trust.verified) return null;
  return (
    <span
      className="trust-verified"
      data-testid="trust-verified"
      title={t("trust.verifiedTitle", { domain: domainOf(address) })}
    >
      <span aria-hidden="true">✔</span> {t("trust.verified")}
    </span>
  );
}

export function TrustWarnings({ trust, address }: { trust: Trust; address: string }) {
  const t = useT();
  const domain = domainOf(address);
  const lines: { key: string; text: string }[] = [];
  for (const warning of trust.warnings) {
    if (warning === "dmarc_fail") lines.push({ key: warning, text: t("trust.dmarcFail", { domain }) });
    if (warning === "lookalike_domain")
      lines.push({ key: warning, text: t("trust.lookalike", { domain, ours: trust.lookalike }) });
    if (warning === "display_name_address") lines.push({ key: warning, text: t("trust.displayName", { address }) });
  }
  const unscanned = trust.warnings.includes("spam_unscanned");
  if (lines.length === 0 && !unscanned) return null;
  return (
    <>
      {lines.length > 0 && (
        <div className="trust-warning" role="alert" data-testid="trust-warning">
          <strong>{t("trust.warningTitle")}</strong>
          <ul>
            {lines.map((line) => (
              <li key={line.key} data-testid={`trust-${line.key}`}>
                {line.text}
              </li>
            ))}
          </ul>
        </div>
      )}
      {unscanned && (
        <p className="trust-note" data-testid="trust-unscanned">
          {t("trust.unscanned")}
        </p>
      )}
    </>
  );
}
