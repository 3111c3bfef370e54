import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type ConnectorStatus, call, connectorPath, type Kind } from "../api.ts";
import { RateChart } from "../chart.tsx";
import { count, time } from "../format.ts";
import { historyOf } from "../history.ts";
import { linkClick, navigate } from "../router.ts";
import { POLL_MS, refreshNow, useConnectors } from "../store.ts";
import { detailPath } from "./connectors.tsx";
import { LogLines } from "./log-lines.tsx";

interface Props {
  kind: Kind;
  tenant: string;
  namespace: string;
  name: string;
}

const GUARANTEES = ["ATLEAST_ONCE", "ATMOST_ONCE", "EFFECTIVELY_ONCE"];

export function ConnectorPage({ kind, tenant, namespace, name }: Props) {
  const base = connectorPath(kind, tenant, namespace, name);
  const snapshot = useConnectors();
  const summary = snapshot?.connectors.find(
    (c) => c.kind === kind && c.tenant === tenant && c.namespace === namespace && c.name === name,
  );
  const [config, setConfig] = useState<Record<string, unknown> | null>(null);
  const [status, setStatus] = useState<ConnectorStatus | null>(null);
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
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const got = await call<ConnectorStatus>("GET", `${base}/status`);
        if (!stop) setStatus(got);
      } catch (error) {
        if (!stop && error instanceof ApiError && error.status === 404) setStatus(null);
      }
      if (!stop) timer = setTimeout(tick, POLL_MS);
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [base]);

  const act = async (what: string, path: string, method = "POST", body?: unknown) => {
    setBusy(true);
    setNotice(null);
    try {
      await call(method, path, body);
      setNotice(`${what}: done`);
      refreshNow();
      setStatus(await call<ConnectorStatus>("GET", `${base}/status`));
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
  const key = `${kind}:${tenant}/${namespace}/${name}`;

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
        <RateChart points={historyOf(key)} />
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

      <LogLines kind={kind} tenant={tenant} namespace={namespace} name={name} />

      <section aria-labelledby="config">
        <h2 id="config">Config</h2>
        <p class="muted">As the worker gives it: secret values are shown as the redaction placeholder.</p>
        <pre class="config">{config ? JSON.stringify(config, null, 2) : "Loading…"}</pre>
      </section>
    </main>
  );
}
