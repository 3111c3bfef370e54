import { describe, expect, it } from "vitest";
import { backoffDelay, Limiter } from "./limiter.ts";

describe("Limiter", () => {
  it("never runs more than its limit at once and runs every task", async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 1 + (i % 3)));
          running--;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(limiter.active).toBe(0);
  });

  it("frees the slot of a failed task", async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await limiter.run(async () => "next")).toBe("next");
  });

  it("backs off exponentially with jitter, capped", () => {
    for (let i = 0; i < 20; i++) {
      expect(backoffDelay(1, 100)).toBeGreaterThanOrEqual(80);
      expect(backoffDelay(1, 100)).toBeLessThanOrEqual(120);
      expect(backoffDelay(3, 100)).toBeGreaterThanOrEqual(320);
      expect(backoffDelay(30, 100, 5000)).toBeLessThanOrEqual(6000);
    }
  });
});
