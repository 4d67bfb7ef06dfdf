// What a Sent or Drafts row shows in place of the sender (Naver: "받는 사람: 박민수 외 2명").
import type { Translate } from "../i18n/translate";
import { singleLine } from "./plainText";

interface Address {
  name: string;
  address: string;
}

export function recipientSummary(to: readonly Address[], cc: readonly Address[], t: Translate): string {
  const all = [...to, ...cc];
  const first = all[0];
  if (!first) return t("list.noRecipients");
  const name = singleLine(first.name || first.address);
  return all.length === 1 ? t("list.toRecipients", { name }) : t("list.toRecipientsMore", { name, count: all.length - 1 });
}

/** Every address, for the row's tooltip. */
export function recipientTitle(to: readonly Address[], cc: readonly Address[]): string {
  return [...to, ...cc].map((a) => a.address).join(", ");
}
