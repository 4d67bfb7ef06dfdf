// A header line of addresses: the name (or the address when there is none) with the full
// address in the title, a warning mark on names that carry another address or domain, and a
// small popover with the full address and a copy button on click.
import { useEffect, useRef, useState } from "react";
import type { Address } from "../../api/messages";
import { useT } from "../../i18n/I18nContext";
import { singleLine } from "../../lib/plainText";
import { nameWarning } from "./addressCheck";

export function formatAddress(a: Address): string {
  const name = singleLine(a.name);
  return name ? `${name} <${a.address}>` : a.address;
}

function AddressChip({ address }: { address: Address }) {
  const t = useT();
  const [open, setOpen] = useState(false);
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  const root = useRef<HTMLSpanElement>(null);
  const name = singleLine(address.name).trim();
  const warning = nameWarning(address.name, address.address);
  const warningText =
    warning === "address" ? t("view.nameHasAddress") : warning === "domain" ? t("view.nameHasDomain") : null;

  useEffect(() => {
    if (!open) return;
    // Capture phase on window, before the shell's shortcuts: this Escape closes the popover,
    // not the message.
    const onKey = (e: KeyboardEvent): void => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      setOpen(false);
    };
    const onDown = (e: MouseEvent): void => {
      if (root.current && e.target instanceof Node && !root.current.contains(e.target)) setOpen(false);
    };
    window.addEventListener("keydown", onKey, true);
    document.addEventListener("mousedown", onDown);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      document.removeEventListener("mousedown", onDown);
    };
  }, [open]);

  const copy = (): void => {
    const clipboard = globalThis.navigator?.clipboard;
    if (!clipboard) {
      setCopied("failed");
      return;
    }
    clipboard.writeText(address.address).then(
      () => setCopied("yes"),
      () => setCopied("failed"),
    );
  };

  return (
    <span className="address" ref={root}>
      <button
        type="button"
        className="address-button"
        title={address.address}
        aria-expanded={open}
        onClick={() => {
          setOpen((v) => !v);
          setCopied(null);
        }}
        data-testid="address"
      >
        {name || address.address}
        {/* With a name, the address is shown too when the name is suspect: never hide it then. */}
        {name && warning && <span className="address-real"> &lt;{address.address}&gt;</span>}
        {name && !warning && <span className="print-only"> &lt;{address.address}&gt;</span>}
      </button>
      {warningText && (
        <span className="name-warning" role="img" aria-label={warningText} title={warningText} data-testid="name-warning">
          ⚠
        </span>
      )}
      {open && (
        <span className="address-popover" role="dialog" aria-label={address.address} data-testid="address-popover">
          {name && <span className="popover-name">{name}</span>}
          <span className="popover-address">{address.address}</span>
          {warningText && <span className="popover-warning">{warningText}</span>}
          <button type="button" onClick={copy} data-testid="copy-address">
            {t("view.copyAddress")}
          </button>
          {copied === "yes" && <span role="status">{t("view.copied")}</span>}
          {copied === "failed" && <span role="status">{t("view.copyFailed")}</span>}
        </span>
      )}
    </span>
  );
}

export function AddressList({ addresses }: { addresses: readonly Address[] }) {
  return (
    <span className="addresses">
      {addresses.map((a, i) => (
        <span key={`${a.address}-${i}`}>
          <AddressChip address={a} />
          {i < addresses.length - 1 ? ", " : ""}
        </span>
      ))}
    </span>
  );
}
