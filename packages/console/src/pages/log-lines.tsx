import { useEffect, useRef, useState } from "preact/hooks";
import { time } from "../format.ts";

export interface LogLine {
  seq: number;
  time: number;
  level: string;
  instanceId: number | null;
  message: string;
  fields: Record<string, unknown>;
}

/** Lines the page keeps of a connector (the worker keeps 500). */
export const KEEP_LOG_LINES = 300;

/** The connector's latest log lines as the worker pushes them; paused, the box stops following. */
export function LogLines({ lines, available }: { lines: LogLine[]; available: boolean }) {
  const [paused, setPaused] = useState(false);
  const [frozen, setFrozen] = useState<LogLine[]>([]);
  const box = useRef<HTMLDivElement>(null);
  const shown = paused ? frozen : lines;
  useEffect(() => {
    const element = box.current;
    if (element && !paused) element.scrollTop = element.scrollHeight;
  }, [lines, paused]);
  return (
    <section aria-labelledby="logs">
      <div class="heading">
        <h2 id="logs">Log lines</h2>
        <button
          type="button"
          class="secondary"
          aria-pressed={paused}
          onClick={() => {
            setFrozen(lines);
            setPaused(!paused);
          }}
        >
          {paused ? "Resume" : "Pause"}
        </button>
      </div>
      {!available ? (
        <p class="muted">This worker logs through a logger it was given: its lines are not kept for the console.</p>
      ) : (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the log box scrolls, so keyboard users must reach it
        <div class="logs" ref={box} tabIndex={0} role="log" aria-label="Log lines of this connector">
          {shown.length === 0 ? <p class="muted">No lines yet (kept from this worker's start, latest 500).</p> : null}
          {shown.map((line) => (
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
