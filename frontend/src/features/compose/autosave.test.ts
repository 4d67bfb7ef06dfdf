import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AutoSaver, type SaveStatus } from "./autosave";

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("AutoSaver", () => {
  it("saves once, 2 s after the last of a burst of changes", async () => {
    const save = vi.fn(() => Promise.resolve());
    const saver = new AutoSaver({ save });
    saver.changed();
    await vi.advanceTimersByTimeAsync(1500);
    saver.changed();
    await vi.advanceTimersByTimeAsync(1500);
    saver.changed();
    expect(save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(2000);
    expect(save).toHaveBeenCalledTimes(1);
    expect(saver.current.dirty).toBe(false);
    await vi.advanceTimersByTimeAsync(60000);
    expect(save).toHaveBeenCalledTimes(1); // nothing new: no more saves
  });

  it("saves at least every 30 s while changes keep coming", async () => {
    const save = vi.fn(() => Promise.resolve());
    const saver = new AutoSaver({ save });
    for (let elapsed = 0; elapsed < 29000; elapsed += 1000) {
      saver.changed();
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(save).not.toHaveBeenCalled();
    saver.changed();
    await vi.advanceTimersByTimeAsync(1000);
    expect(save).toHaveBeenCalledTimes(1);
  });

  it("never overlaps saves and saves again for changes made during one", async () => {
    const first = deferred();
    const save = vi.fn().mockReturnValueOnce(first.promise).mockResolvedValue(undefined);
    const saver = new AutoSaver({ save });
    saver.changed();
    await vi.advanceTimersByTimeAsync(2000);
    expect(save).toHaveBeenCalledTimes(1);
    saver.changed(); // while the first save is still running
    await vi.advanceTimersByTimeAsync(2000);
    expect(save).toHaveBeenCalledTimes(1);
    first.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(save).toHaveBeenCalledTimes(2);
    expect(saver.current.dirty).toBe(false);
  });

  it("reports saving, then the time it saved at", async () => {
    const statuses: SaveStatus[] = [];
    const at = new Date("2026-11-28T10:42:00Z");
    const saver = new AutoSaver({ save: () => Promise.resolve(), onStatus: (s) => statuses.push(s), now: () => at });
    saver.changed();
    await vi.advanceTimersByTimeAsync(2000);
    expect(statuses.map((s) => [s.saving, s.dirty])).toEqual([
      [false, true],
      [true, true],
      [false, false],
    ]);
    expect(saver.current.savedAt).toBe(at);
  });

  it("keeps the change after a failed save and retries after the interval", async () => {
    const save = vi.fn().mockRejectedValueOnce(new Error("503")).mockResolvedValue(undefined);
    const saver = new AutoSaver({ save });
    saver.changed();
    await vi.advanceTimersByTimeAsync(2000);
    expect(save).toHaveBeenCalledTimes(1);
    expect(saver.current.error).toBeInstanceOf(Error);
    expect(saver.current.dirty).toBe(true);
    await vi.advanceTimersByTimeAsync(30000);
    expect(save).toHaveBeenCalledTimes(2);
    expect(saver.current).toMatchObject({ error: null, dirty: false });
  });

  it("flush saves at once and rejects when the save fails", async () => {
    const save = vi.fn().mockRejectedValueOnce(new Error("down")).mockResolvedValue(undefined);
    const saver = new AutoSaver({ save });
    saver.changed();
    await expect(saver.flush()).rejects.toThrow("down");
    await expect(saver.flush()).resolves.toBeUndefined();
    expect(save).toHaveBeenCalledTimes(2);
    await saver.flush(); // clean: nothing to do
    expect(save).toHaveBeenCalledTimes(2);
  });

  it("settle waits for a running save and cancels the scheduled ones; stop ends it all", async () => {
    const running = deferred();
    const save = vi.fn().mockReturnValueOnce(running.promise).mockResolvedValue(undefined);
    const saver = new AutoSaver({ save });
    saver.changed();
    await vi.advanceTimersByTimeAsync(2000);
    saver.changed();
    let settled = false;
    const settling = saver.settle().then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    running.resolve();
    await settling;
    saver.stop();
    saver.changed();
    await vi.advanceTimersByTimeAsync(60000);
    await saver.flush(); // sent or discarded: unsaved edits are not saved as a draft again
    expect(save).toHaveBeenCalledTimes(1);
  });
});
