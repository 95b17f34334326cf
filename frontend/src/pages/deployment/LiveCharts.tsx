// The live charts: one uPlot per metric, one line per version, over a window that moves every second. The data
// is one merge of history and stream (series.ts); this file only draws it.

import { useEffect, useLayoutEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

import { Swatch } from "../../components/Badges";
import { useNow } from "../../live/useNow";
import { versionColour } from "../../lib/colours";
import { number } from "../../lib/format";
import type { LiveDeployment, LiveSnapshot } from "./liveDeployment";
import { type ChartData, type ChartMetric, WINDOW_S, chartData } from "./series";
import { versionRole } from "./rollout";

interface ChartSpec {
  metric: ChartMetric;
  title: string;
  /** Axis and legend values: "12", "0.5 %", "40". */
  format: (value: number) => string;
  /** The smallest top of the axis, so a flat zero line is not drawn at full height. */
  floor: number;
  integer?: boolean;
  /** What an empty chart says. */
  empty?: string;
}

const CHARTS: ChartSpec[] = [
  { metric: "rate", title: "Requests per second", format: number, floor: 1 },
  { metric: "p99", title: "p99 latency (ms)", format: number, floor: 10, empty: "No requests in this window" },
  { metric: "errors", title: "Error rate (5xx, %)", format: (v) => `${number(v)} %`, floor: 1 },
  { metric: "replicas", title: "Replicas ready", format: number, floor: 2, integer: true },
];

const HEIGHT = 170;
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** The newest drawn value of a series as a dot: it also shows a line that has a single point so far. */
function newestPoint(u: uPlot, seriesIndex: number): number[] | null {
  const values = u.data[seriesIndex];
  for (let index = values.length - 1; index >= 0; index -= 1) {
    if (values[index] !== null && values[index] !== undefined) return [index];
  }
  return null;
}

/** 0.37 → 0.5, 3.2 → 5, 41 → 50: a round top for the y axis, at least `floor`. */
export function axisTop(max: number | null, floor: number, integer = false): number {
  const highest = Math.max(floor, max ?? 0);
  const magnitude = 10 ** Math.floor(Math.log10(highest));
  const top = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * magnitude).find((c) => c >= highest) ?? highest;
  return integer ? Math.ceil(top) : top;
}

function cssColour(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function LiveCharts({ live, snapshot }: { live: LiveDeployment; snapshot: LiveSnapshot }) {
  const now = useNow(1000);
  const end = now - snapshot.skewMs;
  const start = end - WINDOW_S * 1000;
  live.series.trim(start);
  const versions = [
    ...new Set([...live.series.versions(), ...(snapshot.latest ?? []).map((point) => point.version)]),
  ].sort((a, b) => a - b);
  const role = (version: number) => versionRole(version, snapshot.stable, snapshot.rollout);
  return (
    <section aria-labelledby="charts-title">
      <div className="section-header">
        <h2 id="charts-title">Last 15 minutes</h2>
        <ul className="legend" aria-label="Versions">
          {versions.map((version) => (
            <li key={version} data-version={version}>
              <Swatch version={version} />
              {`v${version}${role(version) ? ` · ${role(version)}` : ""}`}
            </li>
          ))}
        </ul>
      </div>
      <div className="chart-grid">
        {CHARTS.map((spec) => (
          <MetricChart
            key={spec.metric}
            spec={spec}
            data={chartData(live.series, spec.metric, start, end, versions)}
            start={start}
            end={end}
          />
        ))}
      </div>
    </section>
  );
}

function MetricChart({ spec, data, start, end }: { spec: ChartSpec; data: ChartData; start: number; end: number }) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const range = useRef({ start, end });
  range.current = { start, end };
  const versionsKey = data.versions.join(",");

  // A new plot when the versions change (uPlot's series are fixed at creation); new data every second otherwise.
  useLayoutEffect(() => {
    const element = holder.current;
    if (!element) return;
    const muted = cssColour("--muted", "#616e7c");
    const grid = cssColour("--border", "#dfe4ea");
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [range.current.start / 1000, range.current.end / 1000] },
        y: { range: (_u, _min, max) => [0, axisTop(max, spec.floor, spec.integer)] },
      },
      axes: [
        { ...axis, space: 70, values: (_u, splits) => splits.map((seconds) => clock.format(seconds * 1000)) },
        {
          ...axis,
          size: 52,
          incrs: spec.integer ? [1, 2, 5, 10, 20, 50, 100] : undefined,
          values: (_u, splits) => splits.map((value) => spec.format(value)),
        },
      ],
      series: [
        {},
        ...data.versions.map((version) => ({
          label: `v${version}`,
          stroke: versionColour(version),
          width: 2,
          spanGaps: false,
          points: { show: true, size: 6, fill: versionColour(version), filter: newestPoint },
        })),
      ],
    };
    const chart = new uPlot(options, data.data, element);
    plot.current = chart;
    const resized = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height: HEIGHT }));
    resized.observe(element);
    return () => {
      resized.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- data flows in through the effect below
  }, [versionsKey, spec]);

  useEffect(() => {
    plot.current?.setData(data.data, true);
  }, [data]);

  const drawn = [...data.points.values()].some((count) => count > 0);
  return (
    <figure className="chart card" data-chart={spec.metric}>
      <figcaption className="chart-title">{spec.title}</figcaption>
      <div className="chart-plot">
        <div ref={holder} className="chart-canvas" aria-hidden="true" />
        {drawn ? null : <p className="chart-empty">{spec.empty ?? "No samples in this window"}</p>}
      </div>
      {/* The canvas says nothing to a screen reader (or a test): each version's newest value does. */}
      <ul className="chart-legend" aria-label={`${spec.title}, newest value per version`}>
        {data.versions.map((version) => {
          const latest = data.latest.get(version);
          return (
            <li key={version} data-version={version} data-points={data.points.get(version) ?? 0}>
              <Swatch version={version} />v{version}:{" "}
              <span className="chart-value">{latest === null || latest === undefined ? "—" : spec.format(latest)}</span>
            </li>
          );
        })}
      </ul>
    </figure>
  );
}
