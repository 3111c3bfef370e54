import { describe, expect, it } from "vitest";
import { currentDrains, drainStatusOf } from "./drain-records.ts";

describe("drain records", () => {
  it("forget a drained worker once it left or restarted as a new process", () => {
    const members: Record<string, { started: number; running: string[] }> = {
      same: { started: 1, running: [] },
      restarted: { started: 3, running: [] },
    };
    const kept = currentDrains({ same: 1, restarted: 2, gone: 5 }, (id) => members[id]);
    expect(kept).toEqual({ same: 1 });
  });

  it("say RUNNING while the drained worker holds or is placed instances, SUCCESS after, ERROR without a record", () => {
    const holding = { started: 1, running: ["sink:t/ns/s:0"] };
    const idle = { started: 1, running: [] };
    expect(drainStatusOf("w", { w: 1 }, false, holding, 0).status).toBe("RUNNING");
    expect(drainStatusOf("w", { w: 1 }, false, idle, 1).status).toBe("RUNNING");
    expect(drainStatusOf("w", { w: 1 }, false, idle, 0)).toEqual({ status: "SUCCESS", lastError: "" });
    expect(drainStatusOf("w", {}, true, holding, 0).status).toBe("RUNNING");
    expect(drainStatusOf("w", {}, false, undefined, 0)).toEqual({
      status: "ERROR",
      lastError: "Worker w not found in drain records",
    });
  });
});
