// The live numbers of a deployment: a table of the latest second per version, and four charts of the last 15
// minutes. History comes from REST when the page opens (or after a gap), then every websocket sample is appended.

import type { MetricHistory, MetricPoint } from "./api";
import { type ChartSpec, LineChart, type Sample, legend, versionColour } from "./charts";
import { h, replace } from "./dom";

export const WINDOW_S = 15 * 60;
/** Seconds per history point: 180 points per version for 15 minutes; live points then come every second. */
export const HISTORY_STEP_S = 5;
const MAX_POINTS = 900;
/** A sample older than this and the table says the numbers are stale. */
const STALE_AFTER_MS = 5000;

export interface RolloutSummary {
  id: number;
  phase: string;
  from_version: number | null;
  to_version: number;
  candidate_weight: number;
  shadow_percent: number;
}

interface Stored {
  t: number;
  rate: number;
  p99: number | null;
  errorPercent: number;
  ready: number;
}

const decimal = (digits: number) => new Intl.NumberFormat(undefined, { maximumFractionDigits: digits });
const oneDecimal = decimal(1);
const twoDecimals = decimal(2);

/** 0.1234 → "0.12", 40 → "40", 1234.5 → "1,235". */
export function number(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString();
  return (Math.abs(value) < 1 ? twoDecimals : oneDecimal).format(value);
}

function milliseconds(value: number | null): string {
  return value === null ? "—" : `${number(value)} ms`;
}

const CHARTS: (ChartSpec & { value: (point: Stored) => number | null })[] = [
  { key: "rate", title: "Requests per second", format: number, floor: 1, value: (p) => p.rate },
  {
    key: "p99",
    title: "p99 latency (ms)",
    format: number,
    floor: 10,
    empty: "No requests in this window",
    value: (p) => p.p99,
  },
  {
    key: "errors",
    title: "Error rate (5xx, %)",
    format: (v) => `${number(v)} %`,
    floor: 1,
    value: (p) => p.errorPercent,
  },
  { key: "replicas", title: "Replicas ready", format: number, floor: 2, integer: true, value: (p) => p.ready },
];

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export class MetricsPanel {
  readonly tableSection: HTMLElement;
  readonly chartsSection: HTMLElement;
  private readonly tableSlot = h("div", { class: "table-slot" });
  // Not a live region: it changes every second, which a screen reader would read out every second.
  private readonly freshness = h("span", { class: "small muted" });
  private readonly legendSlot = h("div");
  private readonly charts = CHARTS.map((spec) => ({ spec, chart: new LineChart(spec) }));
  private readonly series = new Map<number, Stored[]>();
  private latest: MetricPoint[] | null = null;
  private latestAt = 0; // the server's time of the latest sample, ms
  private receivedAt = 0; // this browser's time when it arrived
  private skewMs = 0; // this browser's clock minus the server's
  private legendSize = 0; // versions the legend shows
  private stable: number | null = null;
  private rollout: RolloutSummary | null = null;

  constructor() {
    this.tableSection = h(
      "section",
      { class: "live-now", "aria-labelledby": "now-title" },
      h("div", { class: "section-header" }, h("h2", { id: "now-title" }, "Now, per version"), this.freshness),
      this.tableSlot,
    );
    this.chartsSection = h(
      "section",
      { "aria-labelledby": "charts-title" },
      h("div", { class: "section-header" }, h("h2", { id: "charts-title" }, "Last 15 minutes"), this.legendSlot),
      h(
        "div",
        { class: "chart-grid" },
        this.charts.map(({ chart }) => chart.element),
      ),
    );
    this.renderTable();
  }

  /** Which version is stable and which a candidate, and their traffic: labels in the table and the legend. */
  setRoles(stable: number | null, rollout: RolloutSummary | null): void {
    if (stable === this.stable && JSON.stringify(rollout) === JSON.stringify(this.rollout)) return;
    this.stable = stable;
    this.rollout = rollout;
    this.renderTable();
    this.renderLegend();
  }

  /** Replace everything with the history from REST; live samples append from here. */
  load(history: MetricHistory): void {
    const end = Date.parse(history.end);
    this.skewMs = Date.now() - end;
    this.series.clear();
    for (const { version, points } of history.series) {
      // The last interval is still running: its rate would dip. Live samples cover it instead.
      const complete = points.filter((point) => Date.parse(point.at) + history.step_s * 1000 <= end);
      this.series.set(version, complete.slice(-MAX_POINTS).map(stored));
    }
    this.renderLegend();
  }

  /** One live sample: every version's last second. */
  append(at: string, versions: MetricPoint[]): void {
    const t = Date.parse(at);
    if (t < this.latestAt) return; // an older second than the table shows: the charts have it already
    for (const point of versions) {
      const samples = this.series.get(point.version) ?? [];
      const last = samples[samples.length - 1];
      if (last && last.t > t) continue; // older than what the history already holds
      if (last && last.t === t) samples[samples.length - 1] = stored(point);
      else samples.push(stored(point));
      if (samples.length > MAX_POINTS) samples.splice(0, samples.length - MAX_POINTS);
      this.series.set(point.version, samples);
    }
    const known = this.series.size;
    this.latest = versions;
    this.latestAt = t;
    this.receivedAt = Date.now();
    this.renderTable();
    if (known !== this.legendSize) this.renderLegend();
  }

  /** Called once a second: move the window, redraw if anything changed, and say when numbers go stale. */
  tick(): void {
    this.updateFreshness();
    if (document.visibilityState !== "visible") return; // drawn again within a second of coming back
    const end = Date.now() - this.skewMs;
    const start = end - WINDOW_S * 1000;
    for (const samples of this.series.values()) {
      const firstKept = samples.findIndex((sample) => sample.t >= start - 60_000);
      if (firstKept > 0) samples.splice(0, firstKept);
    }
    for (const { spec, chart } of this.charts) {
      const lines = new Map<number, Sample[]>();
      for (const [version, samples] of this.series) {
        lines.set(
          version,
          samples.map((sample) => ({ t: sample.t, value: spec.value(sample) })),
        );
      }
      chart.draw(lines, start, end);
    }
  }

  private renderLegend(): void {
    const versions = [...new Set([...this.series.keys(), ...(this.latest ?? []).map((p) => p.version)])].sort(
      (a, b) => a - b,
    );
    this.legendSize = this.series.size;
    replace(
      this.legendSlot,
      legend(
        versions.map((version) => ({
          version,
          label: `v${version}${this.role(version) ? ` · ${this.role(version)}` : ""}`,
        })),
      ),
    );
  }

  private role(version: number): string {
    const rollout = this.rollout;
    if (rollout && version === rollout.to_version) return rollout.phase === "warm" ? "stable" : "candidate";
    if (rollout && version === rollout.from_version) return rollout.phase === "warm" ? "kept warm" : "stable";
    return version === this.stable ? "stable" : "";
  }

  private traffic(version: number): string {
    const rollout = this.rollout;
    if (rollout) {
      if (version === rollout.to_version) {
        const shadow = rollout.shadow_percent ? ` + ${rollout.shadow_percent} % shadow` : "";
        return `${rollout.candidate_weight} %${shadow}`;
      }
      if (version === rollout.from_version) return `${100 - rollout.candidate_weight} %`;
      return "0 %";
    }
    return version === this.stable ? "100 %" : "0 %";
  }

  private updateFreshness(): void {
    if (this.latest === null) {
      this.freshness.textContent = "Waiting for the first sample…";
      this.freshness.classList.remove("stale");
      return;
    }
    const age = Date.now() - this.receivedAt;
    const stale = age > STALE_AFTER_MS;
    this.freshness.classList.toggle("stale", stale);
    this.freshness.textContent = stale
      ? `No new sample for ${Math.round(age / 1000)} s: is the monitor running?`
      : `Updated ${timeOfDay.format(this.latestAt)}`;
  }

  private renderTable(): void {
    this.updateFreshness();
    if (this.latest === null) {
      replace(this.tableSlot, h("div", { class: "empty" }, "The numbers appear with the monitor's next sample."));
      return;
    }
    if (this.latest.length === 0) {
      replace(this.tableSlot, h("div", { class: "empty" }, "No version of this deployment is running."));
      return;
    }
    const headers = ["Version", "Traffic", "Requests/s", "Errors (5xx)", "p50", "p95", "p99", "In flight", "Replicas"];
    replace(
      this.tableSlot,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table live-table" },
          h("caption", { class: "visually-hidden" }, "Live numbers per version, for the last second"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              headers.map((title) => h("th", { scope: "col" }, title)),
            ),
          ),
          h(
            "tbody",
            {},
            [...this.latest].sort((a, b) => a.version - b.version).map((point) => this.row(point)),
          ),
        ),
      ),
    );
  }

  private row(point: MetricPoint): HTMLTableRowElement {
    const role = this.role(point.version);
    const failed = point.replicas_failed > 0;
    const errorPercent = point.error_rate * 100;
    return h(
      "tr",
      { "data-version": point.version, class: failed ? "row-failed" : "" },
      h(
        "th",
        { scope: "row" },
        h("span", { class: "swatch", style: `background: ${versionColour(point.version)}`, "aria-hidden": "true" }),
        `v${point.version}`,
        role ? h("span", { class: `role role-${role.replace(" ", "-")}` }, role) : null,
      ),
      h("td", { class: "num" }, this.traffic(point.version)),
      h("td", { class: "num", "data-metric": "rate", title: rateTitle(point) }, number(point.rate)),
      h(
        "td",
        {
          class: `num${point.errors > 0 ? " bad" : ""}`,
          "data-metric": "error-rate",
          title: `In the last second: ${point.errors} answered 5xx, ${point.client_errors} answered 4xx`,
        },
        `${number(errorPercent)} %`,
      ),
      h("td", { class: "num", "data-metric": "p50" }, milliseconds(point.p50_ms)),
      h("td", { class: "num", "data-metric": "p95" }, milliseconds(point.p95_ms)),
      h("td", { class: "num", "data-metric": "p99" }, milliseconds(point.p99_ms)),
      h("td", { class: "num", "data-metric": "in-flight" }, point.ongoing === null ? "—" : number(point.ongoing)),
      h(
        "td",
        { class: "num", "data-metric": "replicas", title: replicaStates(point.replica_states) },
        `${point.replicas_ready}/${point.replicas_total} ready`,
        point.replicas_loading > 0 ? h("span", { class: "muted" }, ` · ${point.replicas_loading} loading`) : null,
        failed ? h("span", { class: "badge badge-invalid failed-count" }, `${point.replicas_failed} failed`) : null,
      ),
    );
  }
}

function stored(point: MetricPoint): Stored {
  return {
    t: Date.parse(point.at),
    rate: point.rate,
    p99: point.p99_ms,
    errorPercent: point.error_rate * 100,
    ready: point.replicas_ready,
  };
}

function rateTitle(point: MetricPoint): string {
  const window = point.window_s ?? 1;
  const over = window === 1 ? "the last second" : `the last ${window} seconds`;
  return `${point.requests} requests in the last second; the rate is over ${over}`;
}

function replicaStates(states: Record<string, number>): string {
  const parts = Object.entries(states).map(([state, count]) => `${count} ${state.toLowerCase()}`);
  return parts.length ? `Model server replicas: ${parts.join(", ")}` : "No model server replica reported";
}
