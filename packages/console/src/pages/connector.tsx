import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type ConnectorStatus, type ConnectorSummary, call, connectorPath, type Kind } from "../api.ts";
import { Sparkline, TimeChart } from "../chart.tsx";
import { follow, type StreamState } from "../events.ts";
import { count, latency, rate, time } from "../format.ts";
import { inPerSec, merge, outPerSec, type Sample } from "../history.ts";
import { linkClick, navigate } from "../router.ts";
import { refreshNow } from "../store.ts";
import { detailPath } from "./connectors.tsx";
import { KEEP_LOG_LINES, type LogLine, LogLines } from "./log-lines.tsx";

interface Props {
  kind: Kind;
  tenant: string;
  namespace: string;
  name: string;
}

const GUARANTEES = ["ATLEAST_ONCE", "ATMOST_ONCE", "EFFECTIVELY_ONCE"];

/** What the connector's event stream has brought so far. */
interface Live {
  state: StreamState;
  reason: string | null;
  summary: ConnectorSummary | null | undefined;
  status: ConnectorStatus | null | undefined;
  total: Sample[];
  instances: Record<number, Sample[]>;
  lines: LogLine[];
  logsAvailable: boolean;
}

/** The rate of a sample, or undefined before the first one. */
const perSecond = (sample: Sample | undefined, pick: (s: Sample) => number) =>
  sample === undefined ? undefined : pick(sample);

const EMPTY: Live = {
  state: "connecting",
  reason: null,
  summary: undefined,
  status: undefined,
  total: [],
  instances: {},
  lines: [],
  logsAvailable: true,
};

/** One event stream for the page: summary, instance status, samples and log lines, pushed by the worker. */
function useConnectorStream(kind: Kind, tenant: string, namespace: string, name: string): Live {
  const [live, setLive] = useState<Live>(EMPTY);
  useEffect(() => {
    setLive(EMPTY);
    const path = `/console/api/v1/events/connector/${kind}/${[tenant, namespace, name].map(encodeURIComponent).join("/")}`;
    return follow(
      path,
      {
        summary: (data: { connector: ConnectorSummary | null }) =>
          setLive((old) => ({ ...old, summary: data.connector })),
        status: (data: ConnectorStatus | null) => setLive((old) => ({ ...old, status: data })),
        samples: (data: { total: Sample[]; instances: Array<{ instanceId: number; samples: Sample[] }> }) =>
          setLive((old) => {
            const instances = { ...old.instances };
            for (const entry of data.instances) {
              instances[entry.instanceId] = merge(instances[entry.instanceId] ?? [], entry.samples);
            }
            return { ...old, total: merge(old.total, data.total), instances };
          }),
        logs: (data: { available: boolean; lines: LogLine[] }) =>
          setLive((old) => {
            const last = old.lines.at(-1)?.seq ?? 0;
            const fresh = data.lines.filter((line) => line.seq > last);
            return {
              ...old,
              logsAvailable: data.available,
              lines: fresh.length > 0 ? [...old.lines, ...fresh].slice(-KEEP_LOG_LINES) : old.lines,
            };
          }),
      },
      (state, reason) => setLive((old) => ({ ...old, state, reason: reason ?? null })),
    );
  }, [kind, tenant, namespace, name]);
  return live;
}

export function ConnectorPage({ kind, tenant, namespace, name }: Props) {
  const base = connectorPath(kind, tenant, namespace, name);
  const live = useConnectorStream(kind, tenant, namespace, name);
  const summary = live.summary ?? undefined;
  const [polled, setPolled] = useState<{ status: ConnectorStatus | null; at: number } | null>(null);
  // An action's own answer shows at once; the stream's next push replaces it.
  const status = polled && polled.at > Date.now() - 2_000 ? polled.status : (live.status ?? null);
  const [config, setConfig] = useState<Record<string, unknown> | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [guarantee, setGuarantee] = useState("");
  const [parallelism, setParallelism] = useState("");
  const [updateIssues, setUpdateIssues] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  const loadConfig = async () => {
    try {
      const got = await call<Record<string, unknown>>("GET", base);
      setConfig(got);
      setGuarantee(String(got.processingGuarantees ?? "ATLEAST_ONCE"));
      setParallelism(String(got.parallelism ?? 1));
      setProblem(null);
    } catch (error) {
      setProblem((error as Error).message);
    }
  };
  useEffect(() => {
    void loadConfig();
    heading.current?.focus();
  }, [base]);

  const act = async (what: string, path: string, method = "POST", body?: unknown) => {
    setBusy(true);
    setNotice(null);
    try {
      await call(method, path, body);
      setNotice(`${what}: done`);
      refreshNow();
      try {
        setPolled({ status: await call<ConnectorStatus>("GET", `${base}/status`), at: Date.now() });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
    } catch (error) {
      setNotice(`${what}: ${(error as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  const update = async (event: Event) => {
    event.preventDefault();
    setUpdateIssues(null);
    const wanted = Number(parallelism);
    setBusy(true);
    try {
      await call("PUT", base, { processingGuarantees: guarantee, parallelism: wanted });
      setNotice("Update: done");
      await loadConfig();
      refreshNow();
    } catch (error) {
      const issues = error instanceof ApiError ? error.issues : [];
      setUpdateIssues(
        issues.length > 0 ? issues.map((i) => `${i.path}: ${i.message}`).join("; ") : (error as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      await call("DELETE", base);
      refreshNow();
      navigate("/");
    } catch (error) {
      setNotice(`Delete: ${(error as Error).message}`);
      setBusy(false);
      setConfirming(false);
    }
  };

  const exceptions = (status?.instances ?? [])
    .flatMap((entry) =>
      [
        ...(entry.status.latestSinkExceptions ?? entry.status.latestSourceExceptions ?? []),
        ...entry.status.latestSystemExceptions,
      ].map((e) => ({ ...e, instanceId: entry.instanceId })),
    )
    .sort((a, b) => b.timestampMs - a.timestampMs)
    .slice(0, 10);
  const now = live.total.at(-1)?.at ?? Date.now();

  return (
    <main id="main" tabIndex={-1}>
      <p class="crumbs">
        <a href="/" onClick={linkClick}>
          Connectors
        </a>{" "}
        / {tenant}/{namespace}
      </p>
      <div class="heading">
        <h1 ref={heading} tabIndex={-1}>
          {name} <span class="badge">{kind}</span>
        </h1>
        <div class="actions">
          <a
            class="button secondary"
            href={`${detailPath({ kind, tenant, namespace, name })}/edit`}
            onClick={linkClick}
          >
            Edit config
          </a>
          {kind === "sink" ? (
            <a
              class="button secondary"
              href={`${detailPath({ kind, tenant, namespace, name })}/dead-letters`}
              onClick={linkClick}
            >
              Dead letters
            </a>
          ) : null}
          <button type="button" disabled={busy} onClick={() => act("Start all", `${base}/start`)}>
            Start all
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => act("Stop all", `${base}/stop`)}>
            Stop all
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => setConfirming(true)}>
            Delete
          </button>
        </div>
      </div>
      {problem ? (
        <p class="error" role="alert">
          {problem}
        </p>
      ) : null}
      <p class="notice" aria-live="polite">
        {notice ?? "\u00a0"}
      </p>
      <p class="stream-state muted" data-stream={live.state}>
        {live.summary === null
          ? "This connector does not exist (any more) on this worker."
          : live.state === "live"
            ? "Live: the worker pushes updates."
            : live.state === "retrying"
              ? `Live updates interrupted (${live.reason ?? "connection lost"}); reconnecting…`
              : "Connecting…"}
      </p>
      {confirming ? (
        <div
          class="confirm"
          role="alertdialog"
          aria-labelledby="confirm-title"
          onKeyDown={(event) => {
            if (event.key === "Escape") setConfirming(false);
          }}
        >
          <p id="confirm-title">
            Delete {kind}{" "}
            <strong>
              {tenant}/{namespace}/{name}
            </strong>
            ? Its instances stop and its config is removed.
          </p>
          <button type="button" class="danger" disabled={busy} onClick={remove} ref={(b) => b?.focus()}>
            Yes, delete
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : null}

      <section aria-labelledby="throughput">
        <h2 id="throughput">Throughput</h2>
        <dl class="stats">
          <div>
            <dt>Received</dt>
            <dd class="num">{count(summary?.received)}</dd>
          </div>
          <div>
            <dt>Written</dt>
            <dd class="num">{count(summary?.written)}</dd>
          </div>
          <div>
            <dt>Exceptions</dt>
            <dd class="num">{count(summary?.exceptions)}</dd>
          </div>
          <div>
            <dt>Backlog</dt>
            <dd class="num">{kind === "sink" ? count(summary?.backlog) : "n/a"}</dd>
          </div>
        </dl>
        <div class="charts">
          <TimeChart
            title="Records per second"
            samples={live.total}
            now={now}
            format={rate}
            lines={[
              { label: "received/s", className: "in", pick: inPerSec },
              { label: "written/s", className: "out", pick: outPerSec },
            ]}
          />
          <TimeChart
            title="Write latency"
            samples={live.total}
            now={now}
            format={latency}
            lines={[
              { label: "p50", className: "in", pick: (s) => s.p50Ms },
              { label: "p99", className: "out", pick: (s) => s.p99Ms },
            ]}
          />
        </div>
      </section>

      <section aria-labelledby="instances">
        <h2 id="instances">Instances</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                Restarts
              </th>
              <th scope="col" class="num">
                {kind === "sink" ? "Read" : "Received"}
              </th>
              <th scope="col" class="num">
                Written
              </th>
              <th scope="col" class="num">
                Written/s
              </th>
              <th scope="col">Error</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(status?.instances ?? []).map(({ instanceId, status: s }) => (
              <tr key={instanceId} data-instance={instanceId}>
                <th scope="row">{instanceId}</th>
                <td>
                  <span class={`state ${s.running ? "running" : "failing"}`}>
                    {s.running ? "running" : "not running"}
                  </span>
                  {s.state && s.state !== "running" ? <span class="muted"> {s.state}</span> : null}
                </td>
                <td class="num">{count(s.numRestarts)}</td>
                <td class="num">{count(s.numReadFromPulsar ?? s.numReceivedFromSource)}</td>
                <td class="num">{count(s.numWrittenToSink ?? s.numWritten)}</td>
                <td class="num">
                  <div class="rate">
                    <Sparkline
                      samples={live.instances[instanceId] ?? []}
                      pick={outPerSec}
                      label={`written per second, instance ${instanceId}`}
                    />
                    <span class="figure">{rate(perSecond(live.instances[instanceId]?.at(-1), outPerSec))}</span>
                  </div>
                </td>
                <td class="error-cell">{s.error || <span class="muted">none</span>}</td>
                <td>
                  <div class="row-actions">
                    <button
                      type="button"
                      disabled={busy || s.running}
                      onClick={() => act(`Start ${instanceId}`, `${base}/${instanceId}/start`)}
                    >
                      Start
                    </button>
                    <button
                      type="button"
                      class="secondary"
                      disabled={busy}
                      onClick={() => act(`Stop ${instanceId}`, `${base}/${instanceId}/stop`)}
                    >
                      Stop
                    </button>
                    <button
                      type="button"
                      class="secondary"
                      disabled={busy}
                      onClick={() => act(`Restart ${instanceId}`, `${base}/${instanceId}/restart`)}
                    >
                      Restart
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="scale">
        <h2 id="scale">Guarantee and parallelism</h2>
        <form class="inline" onSubmit={update}>
          <label>
            Processing guarantee
            <select value={guarantee} onChange={(e) => setGuarantee((e.target as HTMLSelectElement).value)}>
              {GUARANTEES.map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          </label>
          <label>
            Parallelism
            <input
              type="number"
              min={1}
              step={1}
              value={parallelism}
              onInput={(e) => setParallelism((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" disabled={busy}>
            Update
          </button>
          {updateIssues ? (
            <p class="error" role="alert">
              {updateIssues}
            </p>
          ) : null}
        </form>
      </section>

      <section aria-labelledby="exceptions">
        <h2 id="exceptions">Latest exceptions</h2>
        {exceptions.length === 0 ? (
          <p class="muted">None reported.</p>
        ) : (
          <ol class="exceptions">
            {exceptions.map((e) => (
              <li key={`${e.instanceId}-${e.timestampMs}-${e.exceptionString}`}>
                <span class="muted num">
                  {time(e.timestampMs)} · instance {e.instanceId}
                </span>
                <pre>{e.exceptionString}</pre>
              </li>
            ))}
          </ol>
        )}
      </section>

      <LogLines lines={live.lines} available={live.logsAvailable} />

      <section aria-labelledby="config">
        <h2 id="config">Config</h2>
        <p class="muted">As the worker gives it: secret values are shown as the redaction placeholder.</p>
        <pre class="config">{config ? JSON.stringify(config, null, 2) : "Loading…"}</pre>
      </section>
    </main>
  );
}
