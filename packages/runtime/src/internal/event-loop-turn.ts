/**
 * Gives the event loop a turn once a loop has held it for `budgetMs`. A loop whose awaits settle at once (messages
 * already buffered, a synchronous write) runs as one chain of microtasks, during which no timer, I/O callback or
 * other instance runs; calling `take()` once per iteration bounds how long that chain can hold the thread.
 */
export class EventLoopTurns {
  private readonly budgetMs: number;
  private since = performance.now();

  constructor(budgetMs = 10) {
    this.budgetMs = budgetMs;
  }

  /** Resolves after a turn of the event loop when the budget is spent, at once otherwise. */
  async take(): Promise<void> {
    if (performance.now() - this.since < this.budgetMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}
