// The 대용량 첨부 of the message being written: uploads running, finished, failed (retry), and
// uploads of an earlier tab that can be resumed once the user picks the same file again.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../../api/client";
import {
  createSession,
  dropSession,
  forgetUpload,
  getSession,
  pendingUploads,
  rememberUpload,
  runUpload,
  sameFile,
  type PendingUpload,
  type UploadSession,
} from "./largeUpload";

export interface LargeItem {
  key: string;
  id: string | null;
  name: string;
  size: number;
  status: "uploading" | "checking" | "done" | "error";
  fraction: number;
  error: unknown;
  file?: File;
}

export interface LargeFiles {
  items: LargeItem[];
  /** uploads of an earlier page that wait for their file to be picked again */
  pending: PendingUpload[];
  add: (file: File) => void;
  resume: (p: PendingUpload, file: File) => boolean;
  retry: (key: string) => void;
  remove: (key: string) => void;
  discardPending: (id: string) => void;
  readyIds: string[];
  busy: boolean;
  /** after a send: the sent files leave this browser's list */
  sent: () => void;
}

let seq = 0;

export function useLargeFiles(): LargeFiles {
  const [items, setItems] = useState<LargeItem[]>([]);
  const [pending, setPending] = useState<PendingUpload[]>([]);
  const aborts = useRef(new Map<string, AbortController>());

  const patch = useCallback((key: string, change: Partial<LargeItem>) => {
    setItems((all) => all.map((i) => (i.key === key ? { ...i, ...change } : i)));
  }, []);

  const run = useCallback(
    (key: string, file: File, session: Promise<UploadSession>) => {
      const abort = new AbortController();
      aborts.current.set(key, abort);
      session
        .then((s) => {
          patch(key, { id: s.id });
          rememberUpload({ id: s.id, name: file.name, size: file.size, lastModified: file.lastModified });
          return runUpload(
            file,
            s,
            (p) => patch(key, { status: p.phase, fraction: p.fraction }),
            abort.signal,
          );
        })
        .then(
          () => patch(key, { status: "done", fraction: 1 }),
          (err: unknown) => {
            if (!abort.signal.aborted) patch(key, { status: "error", error: err });
          },
        )
        .finally(() => aborts.current.delete(key));
    },
    [patch],
  );

  const add = useCallback(
    (file: File) => {
      seq += 1;
      const key = `large-${seq}`;
      setItems((all) => [
        ...all,
        { key, id: null, name: file.name, size: file.size, status: "uploading", fraction: 0, error: null, file },
      ]);
      run(key, file, createSession(file));
    },
    [run],
  );

  const resume = useCallback(
    (p: PendingUpload, file: File): boolean => {
      if (!sameFile(p, file)) return false;
      setPending((all) => all.filter((x) => x.id !== p.id));
      seq += 1;
      const key = `large-${seq}`;
      setItems((all) => [
        ...all,
        { key, id: p.id, name: file.name, size: file.size, status: "uploading", fraction: 0, error: null, file },
      ]);
      run(key, file, getSession(p.id));
      return true;
    },
    [run],
  );

  const retry = useCallback(
    (key: string) => {
      const item = items.find((i) => i.key === key);
      if (!item?.file || item.status !== "error") return;
      patch(key, { status: "uploading", error: null });
      // Where the server stands decides where it goes on (or a new session if there was none).
      run(key, item.file, item.id ? getSession(item.id) : createSession(item.file));
    },
    [items, patch, run],
  );

  const remove = useCallback((key: string) => {
    aborts.current.get(key)?.abort();
    setItems((all) => {
      const item = all.find((i) => i.key === key);
      if (item?.id) {
        forgetUpload(item.id);
        void dropSession(item.id).catch(() => undefined);
      }
      return all.filter((i) => i.key !== key);
    });
  }, []);

  const discardPending = useCallback((id: string) => {
    forgetUpload(id);
    setPending((all) => all.filter((x) => x.id !== id));
    void dropSession(id).catch(() => undefined);
  }, []);

  // Uploads of an earlier page: finished ones come back as they are; unfinished ones wait
  // for their file; those the server no longer has are forgotten.
  useEffect(() => {
    let live = true;
    for (const p of pendingUploads()) {
      getSession(p.id).then(
        (s) => {
          if (!live) return;
          if (s.state === "ready") {
            seq += 1;
            const item: LargeItem = {
              key: `large-${seq}`, id: s.id, name: s.filename, size: s.size, status: "done", fraction: 1, error: null,
            };
            setItems((all) => (all.some((i) => i.id === s.id) ? all : [...all, item]));
          } else if (s.state === "uploading") {
            setPending((all) => (all.some((x) => x.id === p.id) ? all : [...all, p]));
          } else {
            forgetUpload(p.id);
          }
        },
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 404) forgetUpload(p.id);
        },
      );
    }
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    const running = aborts.current;
    return () => {
      for (const abort of running.values()) abort.abort();
    };
  }, []);

  const sent = useCallback(() => {
    setItems((all) => {
      for (const i of all) if (i.id && i.status === "done") forgetUpload(i.id);
      return [];
    });
  }, []);

  return {
    items,
    pending,
    add,
    resume,
    retry,
    remove,
    discardPending,
    readyIds: items.filter((i) => i.status === "done" && i.id !== null).map((i) => i.id as string),
    busy: items.some((i) => i.status === "uploading" || i.status === "checking"),
    sent,
  };
}
