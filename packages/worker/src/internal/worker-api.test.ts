import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WorkerError } from "../errors.ts";
import { Authenticator } from "./auth.ts";
import type { ConnectorManager } from "./connector-manager.ts";
import { sendJson } from "./http.ts";
import type { ClusterView, DrainStatus, WorkerInfo } from "./scheduler.ts";
import { WorkerApi } from "./worker-api.ts";

// The functions-worker API in a cluster of several workers. Cluster mode lives in its own scheduler; here a fixed
// stand-in view (a test double: no multi-worker cluster runs in this unit test) says who the members and the leader
// are, so that what the API does with them is checked: redirects to the leader, refusals, delegation.
const self: WorkerInfo = { workerId: "10.0.0.1:6750", workerHostname: "10.0.0.1", port: 6750 };
const other: WorkerInfo = { workerId: "10.0.0.2:6750", workerHostname: "10.0.0.2", port: 6751 };

let server: Server | undefined;

afterEach(async () => {
  const running = server;
  server = undefined;
  if (running) await new Promise((done) => running.close(done));
});

/** Serves the API of worker `self` over HTTP with `view` as its cluster view; answers its base URL. */
async function serve(view: ClusterView): Promise<string> {
  const manager = { workerId: self.workerId, countersHere: () => [], builtins: () => [] };
  const api = new WorkerApi({
    auth: new Authenticator(undefined),
    manager: manager as unknown as ConnectorManager,
    cluster: view,
    clusterName: "test",
  });
  const listening = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://worker.local");
    const match = /^\/admin\/v2\/(worker|worker-stats)(\/.*)?$/.exec(url.pathname);
    const principal = { role: "anonymous", superUser: true };
    api
      .handle(request.method ?? "GET", match?.[1] as "worker", match?.[2] ?? "", url, principal, response)
      .then((handled) => {
        if (!handled) sendJson(response, 404, { reason: "no route" });
      })
      .catch((error: unknown) => {
        const known = error instanceof WorkerError ? error : undefined;
        sendJson(response, known?.status ?? 500, { reason: (error as Error).message });
      });
  });
  server = listening;
  await new Promise<void>((done) => listening.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
}

function view(leader: WorkerInfo | undefined, extra: Partial<ClusterView> = {}): ClusterView {
  return { workers: () => [self, other], leader: () => leader, assignments: () => ({}), ...extra };
}

async function call(base: string, method: string, path: string) {
  const response = await fetch(`${base}${path}`, { method, redirect: "manual" });
  const text = await response.text();
  return { status: response.status, location: response.headers.get("location"), text };
}

describe("functions-worker API in a cluster (stand-in cluster view)", () => {
  it("a worker that is not the leader redirects rebalance and drain to the leader (307), as upstream", async () => {
    const base = await serve(view(other));
    const rebalance = await call(base, "PUT", "/admin/v2/worker/rebalance");
    expect(rebalance.status).toBe(307);
    expect(rebalance.location).toBe("http://10.0.0.2:6751/admin/v2/worker/rebalance");
    const drain = await call(base, "PUT", "/admin/v2/worker/drain");
    expect(drain.status).toBe(307);
    expect(drain.location).toBe("http://10.0.0.2:6751/admin/v2/worker/leader/drain?workerId=10.0.0.1%3A6750");
    const status = await call(base, "GET", "/admin/v2/worker/leader/drain?workerId=10.0.0.2:6750");
    expect(status.location).toBe("http://10.0.0.2:6751/admin/v2/worker/leader/drain?workerId=10.0.0.2%3A6750");
    const ready = await call(base, "GET", "/admin/v2/worker/cluster/leader/ready");
    expect(ready.status).toBe(503);
  });

  it("the leader refuses rebalance and drain its scheduler cannot do, naming them, and unknown workers", async () => {
    const base = await serve(view(self));
    const rebalance = await call(base, "PUT", "/admin/v2/worker/rebalance");
    expect(rebalance.status).toBe(400);
    expect(JSON.parse(rebalance.text).reason).toMatch(/^rebalance is not supported by this worker's scheduler/);
    const drain = await call(base, "PUT", `/admin/v2/worker/leader/drain?workerId=${other.workerId}`);
    expect(drain.status).toBe(400);
    expect(JSON.parse(drain.text).reason).toMatch(/^drain is not supported/);
    const unknown = await call(base, "PUT", "/admin/v2/worker/leader/drain?workerId=10.0.0.9:6750");
    expect(JSON.parse(unknown.text).reason).toBe("Worker 10.0.0.9:6750 is not among the current workers in the system");
    expect((await call(base, "GET", "/admin/v2/worker/cluster/leader/ready")).text).toBe("true");
  });

  it("the leader hands rebalance, drain and drain status to a scheduler that does them", async () => {
    const calls: string[] = [];
    const base = await serve(
      view(self, {
        rebalance: async () => {
          calls.push("rebalance");
        },
        drain: async (workerId) => {
          calls.push(`drain ${workerId}`);
        },
        drainStatus: (workerId): DrainStatus => ({ status: "RUNNING", lastError: workerId }),
      }),
    );
    expect((await call(base, "PUT", "/admin/v2/worker/rebalance")).status).toBe(204);
    expect((await call(base, "PUT", `/admin/v2/worker/leader/drain?workerId=${other.workerId}`)).status).toBe(204);
    expect(calls).toEqual(["rebalance", `drain ${other.workerId}`]);
    const status = await call(base, "GET", `/admin/v2/worker/leader/drain?workerId=${other.workerId}`);
    expect(JSON.parse(status.text)).toEqual({ status: "RUNNING", lastError: other.workerId });
  });

  it("answers 500 'Leader cannot be determined' while no worker leads, as upstream", async () => {
    const base = await serve(view(undefined));
    const leader = await call(base, "GET", "/admin/v2/worker/cluster/leader");
    expect(leader.status).toBe(500);
    expect(JSON.parse(leader.text).reason).toBe("Leader cannot be determined");
    expect((await call(base, "PUT", "/admin/v2/worker/rebalance")).status).toBe(500);
  });
});
