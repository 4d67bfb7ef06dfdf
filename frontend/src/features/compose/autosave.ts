// Draft autosave scheduling, free of React: a save runs ~2 s after the last change, and at
// least every 30 s while changes keep coming; saves never overlap; a failed save is retried
// on the next change or after the interval. The save itself is a callback that reads the
// latest form state.

export interface SaveStatus {
  saving: boolean;
  savedAt: Date | null;
  error: unknown;
  dirty: boolean;
}

export interface AutoSaverOptions {
  save: () => Promise<void>;
  onStatus?: (status: SaveStatus) => void;
  debounceMs?: number;
  intervalMs?: number;
  now?: () => Date;
}

export class AutoSaver {
  private readonly save: () => Promise<void>;
  private readonly onStatus: (status: SaveStatus) => void;
  private readonly debounceMs: number;
  private readonly intervalMs: number;
  private readonly now: () => Date;
  private debounceTimer: ReturnType<typeof setTimeout> | null = null;
  private intervalTimer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<void> | null = null;
  private generation = 0;
  private stopped = false;
  private status: SaveStatus = { saving: false, savedAt: null, error: null, dirty: false };

  constructor(options: AutoSaverOptions) {
    this.save = options.save;
    this.onStatus = options.onStatus ?? (() => undefined);
    this.debounceMs = options.debounceMs ?? 2000;
    this.intervalMs = options.intervalMs ?? 30000;
    this.now = options.now ?? (() => new Date());
  }

  get current(): SaveStatus {
    return this.status;
  }

  /** The form changed: save after a quiet spell, and no later than the interval. */
  changed(): void {
    if (this.stopped) return;
    this.generation++;
    this.update({ dirty: true });
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      void this.run().catch(() => undefined);
    }, this.debounceMs);
    if (this.intervalTimer === null) this.armInterval();
  }

  /** Saves now if anything is unsaved (after any save in flight); rejects if it fails.
   * Nothing once stopped: a sent or discarded message must not come back as a draft. */
  async flush(): Promise<void> {
    if (this.stopped) return;
    this.clearTimers();
    if (this.inFlight) await this.inFlight.catch(() => undefined);
    if (this.status.dirty) await this.run();
  }

  /** Waits for a save in flight and cancels the scheduled ones (before send or discard). */
  async settle(): Promise<void> {
    this.clearTimers();
    if (this.inFlight) await this.inFlight.catch(() => undefined);
  }

  /** No more saves: the message was sent or discarded, or the view is gone. */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  /** Autosave again after a failed send (settle() cancelled the timers). */
  resume(): void {
    this.stopped = false;
    if (this.status.dirty) this.changed();
  }

  private armInterval(): void {
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = null;
      if (this.status.dirty) void this.run().catch(() => undefined);
    }, this.intervalMs);
  }

  private clearTimers(): void {
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    if (this.intervalTimer !== null) clearTimeout(this.intervalTimer);
    this.debounceTimer = null;
    this.intervalTimer = null;
  }

  private update(patch: Partial<SaveStatus>): void {
    this.status = { ...this.status, ...patch };
    this.onStatus(this.status);
  }

  private run(): Promise<void> {
    if (this.inFlight) {
      // One save at a time: the one after it picks up whatever changed meanwhile.
      return this.inFlight.then(
        () => (this.status.dirty ? this.run() : undefined),
        () => this.run(),
      );
    }
    const started = this.generation;
    this.update({ saving: true });
    const attempt = this.save().then(
      () => {
        this.inFlight = null;
        const clean = this.generation === started;
        this.update({ saving: false, savedAt: this.now(), error: null, dirty: !clean });
        if (clean && this.intervalTimer !== null) {
          clearTimeout(this.intervalTimer);
          this.intervalTimer = null;
        }
      },
      (error: unknown) => {
        this.inFlight = null;
        this.update({ saving: false, error });
        // Try again later even if nothing else changes.
        if (!this.stopped && this.intervalTimer === null) this.armInterval();
        throw error;
      },
    );
    this.inFlight = attempt;
    return attempt;
  }
}
