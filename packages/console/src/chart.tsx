import type { RatePoint } from "./history.ts";

/** A small line of records/s (no axes), fixed size so the table does not move as data comes in. */
export function Sparkline({
  points,
  pick,
  label,
}: {
  points: RatePoint[];
  pick: (p: RatePoint) => number;
  label: string;
}) {
  const width = 96;
  const height = 24;
  const recent = points.slice(-60);
  const max = Math.max(1, ...recent.map(pick));
  const path = recent
    .map((point, index) => {
      const x = recent.length <= 1 ? width : (index / (recent.length - 1)) * width;
      const y = height - 1 - (pick(point) / max) * (height - 2);
      return `${index === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      {recent.length > 1 ? <path d={path} /> : null}
    </svg>
  );
}

/** Records in and out per second over the history kept in the page, with a time axis in minutes. */
export function RateChart({ points }: { points: RatePoint[] }) {
  const width = 1200;
  const height = 200;
  const pad = { left: 56, right: 12, top: 10, bottom: 24 };
  const now = points.at(-1)?.at ?? Date.now();
  const from = Math.min(points[0]?.at ?? now, now - 60_000);
  const span = Math.max(1, now - from);
  const max = Math.max(1, ...points.map((p) => Math.max(p.inPerSec, p.outPerSec)));
  const x = (at: number) => pad.left + ((at - from) / span) * (width - pad.left - pad.right);
  const y = (value: number) => pad.top + (1 - value / max) * (height - pad.top - pad.bottom);
  const line = (pick: (p: RatePoint) => number) =>
    points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.at).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(" ");
  const minutes = Math.round(span / 60_000);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Records in and out per second">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="gridline" x1={pad.left} x2={width - pad.right} y1={y(max * f)} y2={y(max * f)} />
            <text class="axis" x={pad.left - 6} y={y(max * f) + 4} text-anchor="end">
              {max * f >= 100 ? (max * f).toFixed(0) : (max * f).toFixed(1)}
            </text>
          </g>
        ))}
        <text class="axis" x={pad.left} y={height - 6}>
          {minutes > 0 ? `${minutes} min ago` : "now"}
        </text>
        <text class="axis" x={width - pad.right} y={height - 6} text-anchor="end">
          now
        </text>
        {points.length > 1 ? <path class="in" d={line((p) => p.inPerSec)} /> : null}
        {points.length > 1 ? <path class="out" d={line((p) => p.outPerSec)} /> : null}
      </svg>
      <figcaption>
        <span class="key in">received/s</span> <span class="key out">written/s</span>
        {points.length < 2 ? " — collecting data (kept while this page is open)" : null}
      </figcaption>
    </figure>
  );
}
