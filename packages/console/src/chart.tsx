import { HOUR_MS, type Sample } from "./history.ts";

/** Path of values over time; a gap of more than two intervals (worker down, instance stopped) breaks the line. */
function pathOf(
  samples: Sample[],
  pick: (s: Sample) => number | null,
  x: (at: number) => number,
  y: (value: number) => number,
): string {
  let out = "";
  let previous: Sample | undefined;
  for (const sample of samples) {
    const value = pick(sample);
    if (value === null || !Number.isFinite(value)) {
      previous = undefined;
      continue;
    }
    const gap = previous === undefined || sample.at - previous.at > sample.seconds * 1000 * 2.5;
    const point = `${x(sample.at).toFixed(1)},${y(value).toFixed(1)}`;
    // A line starts with a zero-length segment: with round caps, a lone sample still shows as a dot.
    out += gap ? `M${point}L${point}` : `L${point}`;
    previous = sample;
  }
  return out;
}

/** A round upper bound for an axis (1, 2 or 5 times a power of ten). */
function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** A small line (no axes) of a fixed size, so the table does not move as data comes in. */
export function Sparkline({ samples, pick, label }: { samples: Sample[]; pick: (s: Sample) => number; label: string }) {
  const width = 96;
  const height = 24;
  const recent = samples.slice(-60);
  const first = recent[0]?.at ?? 0;
  const span = Math.max(1, (recent.at(-1)?.at ?? 0) - first);
  const max = Math.max(1e-9, ...recent.map(pick));
  const path = pathOf(
    recent,
    pick,
    (at) => (recent.length <= 1 ? width : ((at - first) / span) * width),
    (value) => height - 1 - (value / max) * (height - 2),
  );
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      {recent.length > 1 ? <path d={path} /> : null}
    </svg>
  );
}

export interface Line {
  label: string;
  /** CSS class of the line and of its key. */
  className: string;
  pick: (s: Sample) => number | null;
}

/** Time spans a chart shows: the shortest that holds the samples, up to the hour the worker keeps. */
const SPANS_MIN = [5, 15, 30, 60];
/** Minutes between the time axis' labels, per span. */
const TICK_MIN: Record<number, number> = { 5: 1, 15: 5, 30: 10, 60: 15 };

/**
 * Values over the last hour (or the last minutes, while the worker has fewer samples), from the worker's samples: a
 * fixed size, so new samples move the lines, never the page.
 */
export function TimeChart({
  title,
  samples,
  lines,
  format,
  now,
}: {
  title: string;
  samples: Sample[];
  lines: Line[];
  format: (value: number) => string;
  now: number;
}) {
  const width = 600;
  const height = 200;
  const pad = { left: 60, right: 12, top: 10, bottom: 24 };
  const oldest = samples.find((s) => s.at >= now - HOUR_MS)?.at ?? now;
  const spanMin = SPANS_MIN.find((minutes) => now - oldest <= minutes * 60_000) ?? 60;
  const spanMs = spanMin * 60_000;
  const from = now - spanMs;
  const shown = samples.filter((s) => s.at >= from);
  const values = shown.flatMap((s) => lines.map((line) => line.pick(s) ?? 0));
  const max = niceMax(Math.max(0, ...values));
  const x = (at: number) => pad.left + ((at - from) / spanMs) * (width - pad.left - pad.right);
  const y = (value: number) => pad.top + (1 - value / max) * (height - pad.top - pad.bottom);
  const step = TICK_MIN[spanMin] ?? 15;
  const ticks = Array.from({ length: spanMin / step + 1 }, (_, i) => (i * step) / spanMin);
  return (
    <figure class="chart" data-chart={title} data-span-min={spanMin}>
      <figcaption>
        <strong>{title}</strong>{" "}
        {lines.map((line) => (
          <span key={line.label} class={`key ${line.className}`}>
            {line.label}{" "}
          </span>
        ))}
        <span class="muted" data-samples={shown.length}>
          {shown.length === 0 ? "· waiting for the first sample (every 10 s)" : `· ${shown.length} samples`}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}, last ${spanMin} minutes`}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="gridline" x1={pad.left} x2={width - pad.right} y1={y(max * f)} y2={y(max * f)} />
            <text class="axis" x={pad.left - 6} y={y(max * f) + 4} text-anchor="end">
              {format(max * f)}
            </text>
          </g>
        ))}
        {ticks.map((f) => (
          <text
            key={f}
            class="axis"
            x={x(from + f * spanMs)}
            y={height - 6}
            text-anchor={f === 0 ? "start" : f === 1 ? "end" : "middle"}
          >
            {f === 1 ? "now" : `-${Math.round((1 - f) * spanMin)} min`}
          </text>
        ))}
        {lines.map((line) => (
          <path key={line.label} class={line.className} d={pathOf(shown, line.pick, x, y)} />
        ))}
        {/* Few samples (a new connector, a short span): each one marked, so a lone value is seen. */}
        {shown.length <= 40
          ? lines.map((line) =>
              shown.map((sample) => {
                const value = line.pick(sample);
                return value === null || !Number.isFinite(value) ? null : (
                  <circle
                    key={`${line.label}-${sample.at}`}
                    class={`dot ${line.className}`}
                    cx={x(sample.at)}
                    cy={y(value)}
                    r={3}
                  />
                );
              }),
            )
          : null}
      </svg>
    </figure>
  );
}
