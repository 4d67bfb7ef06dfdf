// "n명 중 m명 읽음" for the rows of a Sent list: one request per page of ids.
import { useEffect, useState } from "react";
import { sentStatus, type SentSummary } from "./outboxApi";

export function useSentStatus(ids: number[]): ReadonlyMap<number, SentSummary> {
  const [found, setFound] = useState<ReadonlyMap<number, SentSummary>>(new Map());
  const key = ids.join(",");
  useEffect(() => {
    if (key === "") return;
    const abort = new AbortController();
    sentStatus(key.split(",").map(Number).slice(0, 500), abort.signal).then(
      (items) => setFound(new Map(items.map((s) => [s.message, s]))),
      () => undefined, // a status column is a nicety: the list works without it
    );
    return () => abort.abort();
  }, [key]);
  return found;
}
