import { useEffect, useRef, useState } from "preact/hooks";
import { call, type Kind } from "../api.ts";
import { time } from "../format.ts";
import { POLL_MS } from "../store.ts";

interface LogLine {
  seq: number;
  time: number;
  level: string;
  instanceId: number | null;
  message: string;
  fields: Record<string, unknown>;
}

const KEEP = 300;

/** The connector's latest log lines from the worker, followed by polling while the page is open. */
export function LogLines({
  kind,
  tenant,
  namespace,
  name,
}: {
  kind: Kind;
  tenant: string;
  namespace: string;
  name: string;
}) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [available, setAvailable] = useState(true);
  const [paused, setPaused] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  useEffect(() => {
    let stop = false;
    let after = 0;
    let timer: ReturnType<typeof setTimeout>;
    setLines([]);
    const path = `/console/api/v1/logs/${kind}/${[tenant, namespace, name].map(encodeURIComponent).join("/")}`;
    const tick = async () => {
      if (!pausedRef.current) {
        try {
          const answer = await call<{ available: boolean; lines: LogLine[] }>("GET", `${path}?after=${after}`);
          if (stop) return;
          setAvailable(answer.available);
          if (answer.lines.length > 0) {
            after = (answer.lines.at(-1) as LogLine).seq;
            setLines((old) => [...old, ...answer.lines].slice(-KEEP));
          }
        } catch {
          // The next tick tries again; the page shows the worker's state elsewhere.
        }
      }
      if (!stop) timer = setTimeout(tick, POLL_MS);
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [kind, tenant, namespace, name]);
  useEffect(() => {
    const element = box.current;
    if (element && !paused) element.scrollTop = element.scrollHeight;
  }, [lines, paused]);
  return (
    <section aria-labelledby="logs">
      <div class="heading">
        <h2 id="logs">Log lines</h2>
        <button type="button" class="secondary" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? "Resume" : "Pause"}
        </button>
      </div>
      {!available ? (
        <p class="muted">This worker logs through a logger it was given: its lines are not kept for the console.</p>
      ) : (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the log box scrolls, so keyboard users must reach it
        <div class="logs" ref={box} tabIndex={0} role="log" aria-label="Log lines of this connector">
          {lines.length === 0 ? <p class="muted">No lines yet (kept from this worker's start, latest 500).</p> : null}
          {lines.map((line) => (
            <div key={line.seq} class={`log ${line.level}`}>
              <span class="muted num">{time(line.time)}</span> <span class="level">{line.level}</span>
              {line.instanceId !== null ? <span class="muted"> [{line.instanceId}]</span> : null} {line.message}
              {Object.keys(line.fields).length > 0 ? <span class="muted"> {JSON.stringify(line.fields)}</span> : null}
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
