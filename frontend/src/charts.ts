// Line charts as inline SVG: one line per model version over a moving time window. No chart library: the console
// needs four small charts, and a few path strings per second are cheaper than any dependency.

import { h } from "./dom";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 560;
const HEIGHT = 190;
const MARGIN = { top: 12, right: 14, bottom: 24, left: 48 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** Points further apart than this are not joined: the monitor was down, or the version was not running. */
const BREAK_MS = 20_000;

/** Colour-blind-friendlier hues (Okabe–Ito, darkened for white backgrounds), by version number. */
const PALETTE = ["#1f6fd1", "#d55e00", "#009e73", "#a0448c", "#8a6d00", "#0072b2", "#cc3311", "#5d6d7e"];

export function versionColour(version: number): string {
  return PALETTE[(version - 1 + PALETTE.length) % PALETTE.length];
}

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number> = {},
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  for (const child of children) element.append(child);
  return element;
}

export interface Sample {
  t: number; // ms since the epoch, the start of the interval
  value: number | null;
}

export interface ChartSpec {
  key: string;
  title: string;
  /** Axis labels: "12", "0.5 %", "40 ms". */
  format: (value: number) => string;
  /** The smallest top of the axis, so a flat zero line is not drawn at full height. */
  floor: number;
  integer?: boolean;
  /** What an empty chart says. */
  empty?: string;
}

/** 0.37 → 0.5, 3.2 → 5, 41 → 50: a round step for about `count` gridlines up to `max`. */
function niceStep(max: number, count: number, integer: boolean): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw) ?? 10 * magnitude;
  return integer ? Math.max(1, Math.ceil(step)) : step;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

/** One chart: a figure with a title and an SVG redrawn whole from the samples it is given. */
export class LineChart {
  readonly element: HTMLElement;
  private readonly plot: SVGSVGElement;

  constructor(private readonly spec: ChartSpec) {
    this.plot = svg("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-label": `${spec.title}, one line per version`,
      class: "chart-svg",
    });
    this.element = h(
      "figure",
      { class: "chart card", "data-chart": spec.key },
      h("figcaption", { class: "chart-title" }, spec.title),
    );
    this.element.append(this.plot);
  }

  draw(series: Map<number, Sample[]>, windowStart: number, windowEnd: number): void {
    const span = windowEnd - windowStart;
    let max = 0;
    for (const samples of series.values()) {
      for (const sample of samples) {
        if (sample.value !== null && sample.t >= windowStart && sample.value > max) max = sample.value;
      }
    }
    const integer = this.spec.integer ?? false;
    const step = niceStep(Math.max(max, this.spec.floor), 4, integer);
    const top = step * Math.ceil(Math.max(max, this.spec.floor) / step);
    const x = (t: number) => MARGIN.left + ((t - windowStart) / span) * PLOT_W;
    const y = (value: number) => MARGIN.top + PLOT_H - (value / top) * PLOT_H;

    const parts: SVGElement[] = [];
    for (let value = 0; value <= top + step / 1000; value += step) {
      const at = y(value).toFixed(1);
      parts.push(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: at, y2: at, class: "chart-grid" }));
      parts.push(
        svg("text", { x: MARGIN.left - 6, y: at, class: "chart-label chart-label-y" }, this.spec.format(value)),
      );
    }
    const fiveMinutes = 5 * 60_000;
    for (let t = Math.ceil(windowStart / fiveMinutes) * fiveMinutes; t <= windowEnd; t += fiveMinutes) {
      const at = x(t).toFixed(1);
      parts.push(
        svg("line", { x1: at, x2: at, y1: MARGIN.top + PLOT_H, y2: MARGIN.top + PLOT_H + 4, class: "chart-axis" }),
      );
      parts.push(svg("text", { x: at, y: HEIGHT - 6, class: "chart-label chart-label-x" }, clock.format(t)));
    }
    parts.push(
      svg("line", {
        x1: MARGIN.left,
        x2: WIDTH - MARGIN.right,
        y1: MARGIN.top + PLOT_H,
        y2: MARGIN.top + PLOT_H,
        class: "chart-axis",
      }),
    );

    let drawn = 0;
    for (const [version, samples] of [...series].sort(([a], [b]) => a - b)) {
      const visible = samples.filter((sample) => sample.t >= windowStart && sample.t <= windowEnd);
      const commands: string[] = [];
      let previous: Sample | null = null;
      let last: Sample | null = null;
      for (const sample of visible) {
        if (sample.value === null) {
          previous = null;
          continue;
        }
        const joined = previous !== null && sample.t - previous.t <= BREAK_MS;
        commands.push(`${joined ? "L" : "M"}${x(sample.t).toFixed(1)} ${y(sample.value).toFixed(1)}`);
        previous = sample;
        last = sample;
      }
      const colour = versionColour(version);
      const points = commands.length;
      drawn += points;
      parts.push(
        svg("path", {
          d: commands.join("") || "M0 0",
          class: "chart-line",
          stroke: colour,
          "data-version": version,
          "data-points": points,
        }),
      );
      if (last !== null) {
        // The newest value as a dot: also what shows a line that has a single point so far.
        parts.push(svg("circle", { cx: x(last.t).toFixed(1), cy: y(last.value ?? 0).toFixed(1), r: 3, fill: colour }));
      }
    }
    if (drawn === 0) {
      parts.push(
        svg(
          "text",
          { x: MARGIN.left + PLOT_W / 2, y: MARGIN.top + PLOT_H / 2, class: "chart-empty" },
          this.spec.empty ?? "No samples in this window",
        ),
      );
    }
    this.plot.replaceChildren(...parts);
  }
}

/** The versions' colours, once for all the charts. */
export function legend(versions: { version: number; label: string }[]): HTMLElement {
  return h(
    "ul",
    { class: "legend", "aria-label": "Versions" },
    versions.map(({ version, label }) =>
      h(
        "li",
        { "data-version": version },
        h("span", { class: "swatch", style: `background: ${versionColour(version)}`, "aria-hidden": "true" }),
        label,
      ),
    ),
  );
}
