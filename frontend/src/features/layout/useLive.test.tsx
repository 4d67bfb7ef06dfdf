import { renderHook } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { POLL_MS } from "./liveEvents";
import { useLive } from "./useLive";

afterEach(() => {
  vi.useRealTimers();
});

describe("useLive", () => {
  it("polls every 30 s where the browser has no EventSource, and stops on unmount", () => {
    vi.useFakeTimers();
    expect(typeof EventSource).toBe("undefined"); // jsdom: the fallback path
    const onPoll = vi.fn();
    const onEvent = vi.fn();
    const { unmount } = renderHook(() => useLive({ onEvent, onPoll }));
    vi.advanceTimersByTime(POLL_MS - 1);
    expect(onPoll).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onPoll).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(POLL_MS * 2);
    expect(onPoll).toHaveBeenCalledTimes(3);
    unmount();
    vi.advanceTimersByTime(POLL_MS * 5);
    expect(onPoll).toHaveBeenCalledTimes(3);
    expect(onEvent).not.toHaveBeenCalled();
  });
});
