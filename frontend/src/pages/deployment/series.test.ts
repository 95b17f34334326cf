import { describe, expect, it } from "vitest";

import type { MetricHistory, MetricPoint } from "../../api/types";
import { BREAK_MS, SeriesBuffer, chartData } from "./series";

const T0 = Date.parse("2026-11-27T12:00:00Z");

function point(version: number, atMs: number, fields: Partial<MetricPoint> = {}): MetricPoint {
  return {
    version,
    at: new Date(atMs).toISOString(),
    requests: 10,
    rate: 10,
    errors: 0,
    error_rate: 0,
    client_errors: 0,
    p50_ms: 2,
    p95_ms: 4,
    p99_ms: 5,
    mean_ms: 2.5,
    ongoing: 0,
    replicas_total: 2,
    replicas_ready: 2,
    replicas_loading: 0,
    replicas_failed: 0,
    replica_states: { RUNNING: 2 },
    shadow_requests: 0,
    shadow_agreements: 0,
    ...fields,
  };
}

function history(endMs: number, stepS: number, series: Record<number, number[]>): MetricHistory {
  return {
    deployment: 1,
    start: new Date(endMs - 900_000).toISOString(),
    end: new Date(endMs).toISOString(),
    step_s: stepS,
    source: "raw",
    seq: 7,
    series: Object.entries(series).map(([version, times]) => ({
      version: Number(version),
      points: times.map((t) => point(Number(version), t, { rate: t / 1000 })),
    })),
  };
}

describe("SeriesBuffer: the history then the stream", () => {
  it("leaves out the history's last interval, which is still running", () => {
    const buffer = new SeriesBuffer();
    const end = T0 + 12_000;
    buffer.load(history(end, 5, { 1: [T0, T0 + 5_000, T0 + 10_000] }));
    // T0+10s + 5 s > end: incomplete, a live second will cover it.
    expect(buffer.samples(1).map((s) => s.t)).toEqual([T0, T0 + 5_000]);
  });

  it("appends live seconds after the history, replaces a second sent twice, drops older ones", () => {
    const buffer = new SeriesBuffer();
    buffer.load(history(T0 + 10_000, 5, { 1: [T0, T0 + 5_000] }));
    buffer.append([point(1, T0 + 10_000, { rate: 40 })]);
    buffer.append([point(1, T0 + 10_000, { rate: 41 })]); // the same second again: the newer numbers win
    buffer.append([point(1, T0 + 2_000, { rate: 99 })]); // older than the newest: the history has it
    buffer.append([point(1, T0 + 11_000, { rate: 42 })]);
    expect(buffer.samples(1).map((s) => [s.t - T0, s.rate])).toEqual([
      [0, T0 / 1000],
      [5_000, (T0 + 5_000) / 1000],
      [10_000, 41],
      [11_000, 42],
    ]);
  });

  it("starts a series for a version that only the stream knows (a canary that just started)", () => {
    const buffer = new SeriesBuffer();
    buffer.load(history(T0, 5, { 1: [T0 - 10_000] }));
    buffer.append([point(1, T0), point(2, T0, { rate: 3 })]);
    expect(buffer.versions()).toEqual([1, 2]);
    expect(buffer.samples(2)).toHaveLength(1);
  });

  it("a reload replaces everything: nothing of the old stream stays", () => {
    const buffer = new SeriesBuffer();
    buffer.load(history(T0, 5, { 1: [T0 - 10_000] }));
    buffer.append([point(2, T0)]);
    buffer.load(history(T0 + 5_000, 5, { 1: [T0 - 5_000] }));
    expect(buffer.versions()).toEqual([1]);
  });

  it("trims samples that left the window but keeps a minute before it", () => {
    const buffer = new SeriesBuffer();
    buffer.append([point(1, T0)]);
    buffer.append([point(1, T0 + 100_000)]);
    buffer.trim(T0 + 200_000);
    expect(buffer.samples(1)).toHaveLength(0);
    buffer.append([point(1, T0 + 150_000)]);
    buffer.append([point(1, T0 + 250_000)]);
    buffer.trim(T0 + 200_000);
    expect(buffer.samples(1).map((s) => s.t - T0)).toEqual([150_000, 250_000]);
  });
});

describe("chartData: aligned columns for uPlot", () => {
  it("puts every version on one time axis, undefined where a version has no point", () => {
    const buffer = new SeriesBuffer();
    buffer.append([point(1, T0, { rate: 30 }), point(2, T0 + 500, { rate: 3 })]);
    buffer.append([point(1, T0 + 1_000, { rate: 31 })]);
    const { data, points, latest } = chartData(buffer, "rate", T0 - 1_000, T0 + 2_000);
    expect(data[0]).toEqual([T0 / 1000, (T0 + 500) / 1000, (T0 + 1_000) / 1000]);
    expect(data[1]).toEqual([30, undefined, 31]);
    expect(data[2]).toEqual([undefined, 3, undefined]);
    expect(points.get(1)).toBe(2);
    expect(latest.get(2)).toBe(3);
  });

  it("breaks a line with null across a gap longer than BREAK_MS (the monitor was down)", () => {
    const buffer = new SeriesBuffer();
    buffer.append([point(1, T0, { rate: 1 })]);
    buffer.append([point(1, T0 + BREAK_MS + 1_000, { rate: 2 })]);
    const { data } = chartData(buffer, "rate", T0 - 1_000, T0 + 60_000);
    expect(data[1]).toEqual([1, null, 2]);
  });

  it("a p99 of a second without requests is a gap, not a zero", () => {
    const buffer = new SeriesBuffer();
    buffer.append([point(1, T0, { p99_ms: 9 })]);
    buffer.append([point(1, T0 + 1_000, { p99_ms: null, requests: 0 })]);
    const { data, points } = chartData(buffer, "p99", T0 - 1_000, T0 + 2_000);
    expect(data[1]).toEqual([9, null]);
    expect(points.get(1)).toBe(1);
  });

  it("shows only the window, in percent for errors and ready replicas for replicas", () => {
    const buffer = new SeriesBuffer();
    buffer.append([point(1, T0 - 5_000, { error_rate: 0.5 })]);
    buffer.append([point(1, T0, { error_rate: 0.025, replicas_ready: 1 })]);
    expect(chartData(buffer, "errors", T0 - 1_000, T0 + 1_000).data[1]).toEqual([2.5]);
    expect(chartData(buffer, "replicas", T0 - 1_000, T0 + 1_000).data[1]).toEqual([1]);
  });
});
