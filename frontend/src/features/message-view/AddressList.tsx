// A header line of addresses: "Name <address>", the full address always in the title.
import type { Address } from "../../api/messages";

export function formatAddress(a: Address): string {
  return a.name ? `${a.name} <${a.address}>` : a.address;
}

export function AddressList({ addresses }: { addresses: readonly Address[] }) {
  return (
    <span className="addresses">
      {addresses.map((a, i) => (
        <span key={`${a.address}-${i}`} className="address" title={a.address}>
          {formatAddress(a)}
          {i < addresses.length - 1 ? ", " : ""}
        </span>
      ))}
    </span>
  );
}
