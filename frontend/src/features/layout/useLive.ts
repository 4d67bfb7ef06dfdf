// Keeps the open screen current without a reload: an EventSource on /api/v1/events, and a
// 30-second poll when the stream keeps failing (retrying the stream every few minutes).
import { useEffect, useRef } from "react";
import { nextConnection, parseLiveEvent, POLL_MS, RETRY_STREAM_MS, type Connection, type LiveEvent } from "./liveEvents";

export const EVENTS_URL = "/api/v1/events";

interface Handlers {
  onEvent: (event: LiveEvent) => void;
  /** fallback tick: reload counts and the head of the open list */
  onPoll: () => void;
}

export function useLive(handlers: Handlers): void {
  const ref = useRef(handlers);
  ref.current = handlers;

  useEffect(() => {
    let state: Connection = { mode: "stream", failures: 0 };
    let source: EventSource | null = null;
    let pollTimer: ReturnType<typeof setInterval> | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    let stopped = false;
    let everOpened = false;

    const stopPolling = (): void => {
      if (pollTimer !== null) clearInterval(pollTimer);
      if (retryTimer !== null) clearTimeout(retryTimer);
      pollTimer = retryTimer = null;
    };

    const startPolling = (): void => {
      source?.close();
      source = null;
      if (pollTimer === null) pollTimer = setInterval(() => ref.current.onPoll(), POLL_MS);
      if (retryTimer !== null) clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        retryTimer = null;
        state = nextConnection(state, "retry");
        connect();
      }, RETRY_STREAM_MS);
    };

    const connect = (): void => {
      if (stopped) return;
      if (typeof EventSource === "undefined") {
        state = { mode: "polling", failures: 0 };
        startPolling();
        return;
      }
      const es = new EventSource(EVENTS_URL);
      source = es;
      const handle = (e: MessageEvent<string>): void => {
        const event = parseLiveEvent(e.type, e.data);
        if (event) ref.current.onEvent(event);
      };
      es.addEventListener("change", handle);
      es.addEventListener("counts", handle);
      es.addEventListener("open", () => {
        state = nextConnection(state, "open");
        stopPolling();
        // A reconnect: whatever happened while we were not listening, catch up once.
        if (everOpened) ref.current.onPoll();
        everOpened = true;
      });
      es.addEventListener("error", () => {
        state = nextConnection(state, "error");
        // CLOSED: the browser gave up (e.g. a 401/403 or a wrong content type).
        if (state.mode === "polling" || es.readyState === EventSource.CLOSED) startPolling();
      });
    };

    connect();
    return () => {
      stopped = true;
      stopPolling();
      source?.close();
    };
  }, []);
}
