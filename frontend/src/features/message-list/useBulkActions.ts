// Runs one BulkCommand on some message ids: flags change at once in the list and are put back
// if the server refuses; moves, deletes and spam reports remove the rows when the server has
// done them. A failure leaves every message where it was and says why.
import { useCallback, useState } from "react";
import type { MessageListItem } from "../../api/folders";
import { deleteMessages, moveMessages, reportSpam, setFlags, type FlagName } from "../../api/mail";
import type { BulkCommand } from "./BulkToolbar";
import type { ListAction } from "./listState";

interface Options {
  items: readonly MessageListItem[];
  dispatch: (action: ListAction) => void;
  upsert: (items: readonly MessageListItem[]) => void;
  /** after the server did it: reload counts, clear the selection, leave a removed message */
  onDone: (command: BulkCommand, ids: readonly number[]) => void;
}

export function flagChange(command: BulkCommand): { add: FlagName[]; remove: FlagName[] } | null {
  switch (command.kind) {
    case "read":
      return { add: ["seen"], remove: [] };
    case "unread":
      return { add: [], remove: ["seen"] };
    case "star":
      return { add: ["flagged"], remove: [] };
    case "unstar":
      return { add: [], remove: ["flagged"] };
    default:
      return null;
  }
}

export function useBulkActions({ items, dispatch, upsert, onDone }: Options) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = useCallback(
    (command: BulkCommand, ids: readonly number[]) => {
      if (ids.length === 0) return;
      const chunk = ids.slice(0, 1000);
      setError(null);
      const flags = flagChange(command);
      if (flags) {
        const wanted = new Set(chunk);
        const before = items.filter((m) => wanted.has(m.id));
        dispatch({ type: "flags", ids: chunk, add: flags.add, remove: flags.remove });
        setFlags(chunk, flags.add, flags.remove).then(
          (res) => {
            upsert(res.results);
            onDone(command, chunk);
          },
          (err: unknown) => {
            upsert(before);
            setError(err);
          },
        );
        return;
      }
      setBusy(true);
      const call =
        command.kind === "delete"
          ? deleteMessages(chunk)
          : command.kind === "spam"
            ? reportSpam(chunk, command.spam)
            : command.kind === "move"
              ? moveMessages(chunk, command.folderId)
              : Promise.resolve(undefined);
      call.then(
        () => {
          setBusy(false);
          dispatch({ type: "remove", ids: chunk, folderId: null });
          onDone(command, chunk);
        },
        (err: unknown) => {
          setBusy(false);
          setError(err);
        },
      );
    },
    [items, dispatch, upsert, onDone],
  );

  return { run, busy, error, clearError: () => setError(null) };
}
