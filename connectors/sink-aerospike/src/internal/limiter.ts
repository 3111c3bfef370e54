/** Runs at most `limit` tasks at once; the rest wait in call order. */
export class Limiter {
  private readonly limit: number;
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Runs `task` when a slot is free. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }
}

/** Delay before retry `attempt` (1-based): `base` doubling per attempt, capped, with ±20 % jitter. */
export function backoffDelay(attempt: number, base: number, cap = 5000): number {
  const raw = Math.min(cap, base * 2 ** (attempt - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}
