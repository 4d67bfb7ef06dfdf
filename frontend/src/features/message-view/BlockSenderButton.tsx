// "차단" beside the sender in the reading pane: adds the sender to 수신차단 (after a confirm).
import { useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useT } from "../../i18n/I18nContext";
import { blockSender } from "../settings/rulesApi";

export function BlockSenderButton({ address }: { address: string }) {
  const t = useT();
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (!address) return null;
  if (done) return <span role="status"> {t("reading.blocked", { address })}</span>;
  const block = (): void => {
    if (!window.confirm(t("reading.blockConfirm", { address }))) return;
    setError(null);
    blockSender(address).then(() => setDone(true), setError);
  };
  return (
    <>
      {" "}
      <button type="button" className="block-sender" onClick={block} data-testid="block-sender">
        {t("reading.block")}
      </button>
      {error !== null && <ErrorNotice error={error} />}
    </>
  );
}
