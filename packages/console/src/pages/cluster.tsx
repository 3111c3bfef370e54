import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "../api.ts";
import { time } from "../format.ts";

/** A worker as `/admin/v2/worker/cluster` lists it (upstream WorkerInfo). */
interface WorkerInfo {
  workerId: string;
  workerHostname: string;
  port: number;
}

type ClusterAnswer =
  | { kind: "loading" }
  | { kind: "unavailable"; status: number; reason: string }
  | {
      kind: "ok";
      at: number;
      workers: WorkerInfo[];
      leader: WorkerInfo | null;
      assignments: Record<string, string[]>;
    };

/** How often the page asks again: membership changes are rare, and the endpoints are not streamed. */
const REFRESH_MS = 5_000;

async function load(): Promise<ClusterAnswer> {
  try {
    const [workers, leader, assignments] = await Promise.all([
      call<WorkerInfo[]>("GET", "/admin/v2/worker/cluster"),
      call<WorkerInfo>("GET", "/admin/v2/worker/cluster/leader").catch((error: unknown) => {
        // No leader known (an election under way) is a state of the cluster, not a failure of the page.
        if (error instanceof ApiError && error.status !== 404) throw error;
        return null;
      }),
      call<Record<string, string[]>>("GET", "/admin/v2/worker/assignments"),
    ]);
    return { kind: "ok", at: Date.now(), workers, leader, assignments: assignments ?? {} };
  } catch (error) {
    if (error instanceof ApiError) return { kind: "unavailable", status: error.status, reason: error.message };
    return { kind: "unavailable", status: 0, reason: (error as Error).message };
  }
}

/** Workers, the leader, and which instances run where, from the worker's `/admin/v2/worker/*` endpoints. */
export function ClusterPage() {
  const [answer, setAnswer] = useState<ClusterAnswer>({ kind: "loading" });
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      const next = await load();
      if (stop) return;
      setAnswer(next);
      timer = setTimeout(tick, REFRESH_MS);
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, []);
  const assigned = answer.kind === "ok" ? answer.assignments : {};
  // Workers that run instances but are not (or no longer) listed as members still show, so nothing is hidden.
  const rows =
    answer.kind === "ok"
      ? [
          ...answer.workers,
          ...Object.keys(assigned)
            .filter((id) => !answer.workers.some((w) => w.workerId === id))
            .map((workerId) => ({ workerId, workerHostname: "", port: 0 })),
        ].sort((a, b) => a.workerId.localeCompare(b.workerId))
      : [];
  return (
    <main id="main" tabIndex={-1}>
      <div class="heading">
        <h1 ref={heading} tabIndex={-1}>
          Cluster
        </h1>
        <p class="muted" aria-live="polite">
          {answer.kind === "ok" ? `Updated ${time(answer.at)}` : "\u00a0"}
        </p>
      </div>
      {answer.kind === "loading" ? <p class="muted">Loading…</p> : null}
      {answer.kind === "unavailable" ? (
        <div class="unavailable" data-testid="cluster-unavailable">
          <p>
            <strong>
              {answer.status === 404
                ? "Not available from this worker."
                : answer.status === 403
                  ? "Your role may not see the cluster."
                  : "The cluster view could not be loaded."}
            </strong>
          </p>
          <p class="muted">
            {answer.status === 404
              ? "This worker does not answer /admin/v2/worker/cluster, /cluster/leader and /assignments, so it cannot tell which workers there are and what runs where."
              : answer.reason}
          </p>
        </div>
      ) : null}
      {answer.kind === "ok" ? (
        <>
          <section aria-labelledby="leader">
            <h2 id="leader">Leader</h2>
            <p data-testid="cluster-leader">
              {answer.leader ? (
                <>
                  <strong>{answer.leader.workerId}</strong>{" "}
                  <span class="muted">
                    ({answer.leader.workerHostname}:{answer.leader.port})
                  </span>
                </>
              ) : (
                <span class="muted">No leader known right now (an election may be under way).</span>
              )}
            </p>
          </section>
          <section aria-labelledby="workers">
            <h2 id="workers">Workers and their instances</h2>
            <table class="cluster-workers">
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">Host</th>
                  <th scope="col" class="num">
                    Port
                  </th>
                  <th scope="col">Role</th>
                  <th scope="col" class="num">
                    Instances
                  </th>
                  <th scope="col">Runs</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((worker) => {
                  const instances = [...(assigned[worker.workerId] ?? [])].sort();
                  const member = answer.workers.some((w) => w.workerId === worker.workerId);
                  return (
                    <tr key={worker.workerId} data-worker={worker.workerId}>
                      <th scope="row">{worker.workerId}</th>
                      <td>{worker.workerHostname || <span class="muted">–</span>}</td>
                      <td class="num">{worker.port || "–"}</td>
                      <td>
                        {answer.leader?.workerId === worker.workerId ? <span class="badge">leader</span> : null}
                        {member ? null : <span class="muted">not a member</span>}
                      </td>
                      <td class="num">{instances.length}</td>
                      <td>
                        {instances.length === 0 ? (
                          <span class="muted">nothing</span>
                        ) : (
                          <ul class="instances-list">
                            {instances.map((instance) => (
                              <li key={instance}>{instance}</li>
                            ))}
                          </ul>
                        )}
                      </td>
                    </tr>
                  );
                })}
                {rows.length === 0 ? (
                  <tr>
                    <td colSpan={6} class="muted">
                      No worker listed.
                    </td>
                  </tr>
                ) : null}
              </tbody>
            </table>
          </section>
        </>
      ) : null}
    </main>
  );
}
