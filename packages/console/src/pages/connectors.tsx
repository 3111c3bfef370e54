import { useState } from "preact/hooks";
import type { ConnectorSummary } from "../api.ts";
import { Sparkline } from "../chart.tsx";
import { ago, count, rate } from "../format.ts";
import { historyOf, inPerSec, keyOf, outPerSec } from "../history.ts";
import { linkClick } from "../router.ts";
import { useConnectors } from "../store.ts";

type StateFilter = "all" | "running" | "partial" | "stopped" | "failing";

function stateOf(c: ConnectorSummary): Exclude<StateFilter, "all"> {
  if (c.running === c.instances && c.instances > 0 && c.stopped === 0) return "running";
  if (c.stopped === c.instances) return "stopped";
  if (c.running === 0) return "failing";
  return "partial";
}

const STATE_LABEL: Record<Exclude<StateFilter, "all">, string> = {
  running: "Running",
  partial: "Partly running",
  stopped: "Stopped",
  failing: "Not running",
};

export function detailPath(c: Pick<ConnectorSummary, "kind" | "tenant" | "namespace" | "name">): string {
  return `/connectors/${c.kind}/${[c.tenant, c.namespace, c.name].map(encodeURIComponent).join("/")}`;
}

export function ConnectorsPage() {
  const snapshot = useConnectors();
  const [tenant, setTenant] = useState("");
  const [namespace, setNamespace] = useState("");
  const [state, setState] = useState<StateFilter>("all");
  const all = snapshot?.connectors ?? [];
  const tenants = [...new Set(all.map((c) => c.tenant))].sort();
  const namespaces = [...new Set(all.filter((c) => !tenant || c.tenant === tenant).map((c) => c.namespace))].sort();
  const shown = all
    .filter((c) => (!tenant || c.tenant === tenant) && (!namespace || c.namespace === namespace))
    .filter((c) => state === "all" || stateOf(c) === state)
    .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return (
    <main id="main" tabIndex={-1}>
      <div class="heading">
        <h1>Connectors</h1>
        <p class="muted" aria-live="polite">
          {snapshot === null
            ? "Loading…"
            : snapshot.error
              ? `Live updates interrupted (${snapshot.error}); reconnecting…`
              : `${all.length} on this worker · live`}
        </p>
      </div>
      <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Filters">
        <label>
          Tenant
          <select
            value={tenant}
            onChange={(e) => {
              setTenant((e.target as HTMLSelectElement).value);
              setNamespace("");
            }}
          >
            <option value="">All</option>
            {tenants.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Namespace
          <select value={namespace} onChange={(e) => setNamespace((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {namespaces.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value as StateFilter)}>
            <option value="all">All</option>
            {(Object.keys(STATE_LABEL) as Array<keyof typeof STATE_LABEL>).map((s) => (
              <option key={s} value={s}>
                {STATE_LABEL[s]}
              </option>
            ))}
          </select>
        </label>
      </form>
      <div class="table-wrap">
        <table class="connectors">
          <caption class="sr-only">Connectors, updated live by the worker</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Type</th>
              <th scope="col">Guarantee</th>
              <th scope="col" class="num">
                Instances
              </th>
              <th scope="col" class="num">
                In
              </th>
              <th scope="col" class="num">
                Out
              </th>
              <th scope="col" class="num">
                Backlog
              </th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => {
              const samples = historyOf(keyOf(c));
              const latest = samples.at(-1);
              const s = stateOf(c);
              return (
                <tr key={keyOf(c)} data-connector={`${c.tenant}/${c.namespace}/${c.name}`}>
                  <th scope="row">
                    <a href={detailPath(c)} onClick={linkClick} title={`${c.tenant}/${c.namespace}/${c.name}`}>
                      <span class="muted">
                        {c.tenant}/{c.namespace}/
                      </span>
                      {c.name}
                    </a>
                  </th>
                  <td>{c.kind}</td>
                  <td>{c.type}</td>
                  <td>{c.guarantee}</td>
                  <td class="num">
                    <span class={`state ${s}`} title={STATE_LABEL[s]}>
                      <span class="sr-only">{STATE_LABEL[s]}: </span>
                      {c.running}/{c.instances}
                    </span>
                  </td>
                  <td class="num">
                    <div class="rate">
                      <Sparkline samples={samples} pick={inPerSec} label={`received per second, ${c.name}`} />
                      <span class="figure">{rate(latest && inPerSec(latest))}</span>
                    </div>
                  </td>
                  <td class="num">
                    <div class="rate">
                      <Sparkline samples={samples} pick={outPerSec} label={`written per second, ${c.name}`} />
                      <span class="figure">{rate(latest && outPerSec(latest))}</span>
                    </div>
                  </td>
                  <td class="num">{c.kind === "sink" ? count(c.backlog) : "n/a"}</td>
                  <td class="error-cell">
                    {c.lastError ? (
                      <span title={c.lastError.exceptionString}>
                        <span class="muted">{ago(c.lastError.timestampMs)}:</span> {c.lastError.exceptionString}
                      </span>
                    ) : (
                      <span class="muted">none</span>
                    )}
                  </td>
                </tr>
              );
            })}
            {shown.length === 0 && snapshot !== null ? (
              <tr>
                <td colSpan={9} class="muted">
                  {all.length === 0
                    ? "No connectors yet. Create a sink or a source."
                    : "No connector matches the filters."}
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </main>
  );
}
