// The numbers behind the live charts: one merge of the REST history and the websocket's seconds, per version, and
// the aligned arrays uPlot draws from them. Pure: no DOM, no clock of its own (callers pass the window).

import type { AlignedData } from "uplot";

import type { MetricHistory, MetricPoint } from "../../api/types";

/** What the charts show by default: the last 15 minutes. */
export const WINDOW_S = 15 * 60;
/** Seconds per history point: 180 points per version for 15 minutes; live points then come every second. */
export const HISTORY_STEP_S = 5;
/** At most this many points per version: a quarter of an hour of live seconds. */
export const MAX_POINTS = 900;
/** Points further apart than this are not joined: the monitor was down, or the version was not running. */
export const BREAK_MS = 20_000;
/** Samples this far before the window are kept, so a line enters the chart from its left edge. */
const KEPT_BEFORE_MS = 60_000;

/** One version at one time, reduced to what the charts draw. */
export interface Sample {
  t: number; // ms since the epoch: the start of the interval
  rate: number;
  p99: number | null;
  errorPercent: number;
  ready: number;
}

export type ChartMetric = "rate" | "p99" | "errors" | "replicas";

export function sampleOf(point: MetricPoint): Sample {
  return {
    t: Date.parse(point.at),
    rate: point.rate,
    p99: point.p99_ms,
    errorPercent: point.error_rate * 100,
    ready: point.replicas_ready,
  };
}

export function metricValue(sample: Sample, metric: ChartMetric): number | null {
  switch (metric) {
    case "rate":
      return sample.rate;
    case "p99":
      return sample.p99;
    case "errors":
      return sample.errorPercent;
    case "replicas":
      return sample.ready;
  }
}

/** Every version's samples, oldest first: the history, then each live second after it. */
export class SeriesBuffer {
  private readonly series = new Map<number, Sample[]>();
  /** Grows on every change, for views that redraw only when something did. */
  revision = 0;

  /**
   * Replace everything with the history from REST. Its last interval is still running (its rate would dip), so it
   * is left out: live seconds cover it. Returns the server's time of the answer, in ms.
   */
  load(history: MetricHistory): number {
    const end = Date.parse(history.end);
    this.series.clear();
    for (const { version, points } of history.series) {
      const complete = points.filter((point) => Date.parse(point.at) + history.step_s * 1000 <= end);
      this.series.set(version, complete.slice(-MAX_POINTS).map(sampleOf));
    }
    this.revision += 1;
    return end;
  }

  /**
   * One live second of every version. A second the buffer already holds replaces it (the same second sent again);
   * one older than a version's newest sample is dropped (the history already covers it).
   */
  append(points: MetricPoint[]): void {
    for (const point of points) {
      const sample = sampleOf(point);
      const samples = this.series.get(point.version) ?? [];
      const last = samples[samples.length - 1];
      if (last && last.t > sample.t) continue;
      if (last && last.t === sample.t) samples[samples.length - 1] = sample;
      else samples.push(sample);
      if (samples.length > MAX_POINTS) samples.splice(0, samples.length - MAX_POINTS);
      this.series.set(point.version, samples);
    }
    this.revision += 1;
  }

  /** Forget samples that left the window (keeping a minute, so lines enter from the left edge). */
  trim(windowStart: number): void {
    for (const samples of this.series.values()) {
      const firstKept = samples.findIndex((sample) => sample.t >= windowStart - KEPT_BEFORE_MS);
      if (firstKept > 0) samples.splice(0, firstKept);
      else if (firstKept === -1) samples.length = 0;
    }
  }

  versions(): number[] {
    return [...this.series.keys()].sort((a, b) => a - b);
  }

  samples(version: number): readonly Sample[] {
    return this.series.get(version) ?? [];
  }
}

export interface ChartData {
  /** uPlot's columns: times in seconds, then one column per version (null: a gap, undefined: no point there). */
  data: AlignedData;
  versions: number[];
  /** Points drawn per version in the window: 0 means the version has no line yet. */
  points: Map<number, number>;
  /** The newest value per version in the window, for the legend. */
  latest: Map<number, number | null>;
}

/**
 * The window [start, end] (ms) of one metric, aligned for uPlot. Versions share one time axis: a version with no
 * sample at a time gets `undefined` there, which uPlot draws across; a real gap (longer than BREAK_MS, or a null
 * value such as a p99 with no request) gets `null`, which breaks the line.
 */
export function chartData(
  buffer: SeriesBuffer,
  metric: ChartMetric,
  start: number,
  end: number,
  versions: number[] = buffer.versions(),
): ChartData {
  const columns = new Map<number, Map<number, number | null>>();
  const times = new Set<number>();
  const points = new Map<number, number>();
  const latest = new Map<number, number | null>();
  for (const version of versions) {
    const column = new Map<number, number | null>();
    let previous: number | null = null;
    let drawn = 0;
    let newest: number | null = null;
    for (const sample of buffer.samples(version)) {
      if (sample.t < start || sample.t > end) continue;
      const value = metricValue(sample, metric);
      if (previous !== null && sample.t - previous > BREAK_MS) {
        const gapAt = previous + 1; // just after the last point: the line stops there
        column.set(gapAt, null);
        times.add(gapAt);
      }
      column.set(sample.t, value);
      times.add(sample.t);
      previous = sample.t;
      if (value !== null) {
        drawn += 1;
        newest = value;
      }
    }
    columns.set(version, column);
    points.set(version, drawn);
    latest.set(version, newest);
  }
  const axis = [...times].sort((a, b) => a - b);
  const data: AlignedData = [
    axis.map((t) => t / 1000),
    ...versions.map((version) => {
      const column = columns.get(version)!;
      return axis.map((t) => (column.has(t) ? column.get(t)! : undefined));
    }),
  ];
  return { data, versions, points, latest };
}
