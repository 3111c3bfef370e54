export class Backoff {
  private current: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  constructor(initialMs = 100, maxMs = 30_000) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.current = initialMs;
  }
  next(): number {
    const delay = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    // +-10% jitter so reconnecting clients spread out
    return Math.round(delay * (0.9 + Math.random() * 0.2));
  }
  reset(): void {
    this.current = this.initialMs;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
