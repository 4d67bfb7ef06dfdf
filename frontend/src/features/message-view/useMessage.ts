// Loads one message and marks it seen on the server the first time it is opened.
import { useEffect, useState } from "react";
import { getMessage, patchMessage, type MessageDetail } from "../../api/messages";

export function useMessage(messageId: number | null, onSeen: (message: MessageDetail) => void) {
  const [message, setMessage] = useState<MessageDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    setMessage(null);
    setError(null);
    if (messageId === null) return;
    const abort = new AbortController();
    getMessage(messageId, abort.signal).then(
      (detail) => {
        setMessage(detail);
        // Reading does not mark seen on the server (GET is safe): the app does, like Naver.
        if (!detail.flags.seen) {
          patchMessage(detail.id, { seen: true }).then(
            () => onSeen(detail),
            () => undefined, // the flag stays unset; the list shows it unread, nothing lost
          );
        }
      },
      (err: unknown) => {
        if (!abort.signal.aborted) setError(err);
      },
    );
    return () => abort.abort();
    // onSeen is deliberately not a dependency: a new callback must not refetch the message.
  }, [messageId, attempt]);

  return { message, error, retry: () => setAttempt((n) => n + 1) };
}
