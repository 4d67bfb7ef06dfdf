// "대화형으로 보기": the per-user grouping setting, switched from above the list.
import { useState } from "react";
import { useT } from "../../i18n/I18nContext";
import { setGrouping } from "./conversationApi";

interface Props {
  on: boolean;
  onChange: (on: boolean) => void;
  save?: (on: boolean) => Promise<unknown>;
}

export function ConversationToggle({ on, onChange, save = setGrouping }: Props) {
  const t = useT();
  const [busy, setBusy] = useState(false);
  return (
    <label className="conv-toggle">
      <input
        type="checkbox"
        checked={on}
        disabled={busy}
        data-testid="conversation-toggle"
        onChange={(e) => {
          const next = e.target.checked;
          setBusy(true);
          onChange(next); // the list follows at once; the setting is stored for next time
          save(next).then(
            () => setBusy(false),
            () => {
              setBusy(false);
              onChange(!next);
            },
          );
        }}
      />{" "}
      {t("conv.toggle")}
    </label>
  );
}
