// A settings form that loads one object, is edited locally and saved whole (PUT): the state
// and the load/save calls shared by the forwarding and vacation sections.
import { useEffect, useState } from "react";

export interface Editable<T> {
  shown: T | null;
  error: unknown;
  saved: boolean;
  change: (patch: Partial<T>) => void;
  submit: () => void;
}

export function useEditable<T>(
  load: (signal: AbortSignal) => Promise<T>,
  save: (value: T) => Promise<T>,
  onSaved?: (value: T) => void,
): Editable<T> {
  const [shown, setShown] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal).then(setShown, (err: unknown) => !controller.signal.aborted && setError(err));
    return () => controller.abort();
    // Loaded once per mount: `load` is a module function.
  }, []);

  const change = (patch: Partial<T>): void => {
    if (shown) setShown({ ...shown, ...patch });
    setSaved(false);
  };
  const submit = (): void => {
    if (!shown) return;
    setError(null);
    save(shown).then((next) => {
      setShown(next);
      setSaved(true);
      onSaved?.(next);
    }, setError);
  };
  return { shown, error, saved, change, submit };
}
