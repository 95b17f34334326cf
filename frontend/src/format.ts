import type { ValidationStatus } from "./api";
import { h } from "./dom";

const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5 KiB": binary units, as in the server's own limits and messages. */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A readable local date, with the exact ISO timestamp in the tooltip. */
export function dateCell(iso: string): HTMLTimeElement {
  return h("time", { datetime: iso, title: iso }, dateFormat.format(new Date(iso)));
}

export function shortSha(sha256: string): string {
  return sha256.slice(0, 12);
}

const STATUS_LABELS: Record<ValidationStatus, string> = {
  valid: "valid",
  needs_trust: "needs trust",
  runtime_missing: "runtime missing",
  invalid: "invalid",
};

const STATUS_EXPLANATIONS: Record<ValidationStatus, string> = {
  valid: "Loaded and checked on upload: ready to deploy.",
  needs_trust: "This format can run code when loaded: a team admin must mark the version trusted before it deploys.",
  runtime_missing: "The framework for this format is not installed on the control plane, so it was not load-checked.",
  invalid: "The file could not be loaded.",
};

export function statusBadge(status: ValidationStatus, error: string): HTMLElement {
  const title = error ? `${STATUS_EXPLANATIONS[status]} ${error}` : STATUS_EXPLANATIONS[status];
  return h("span", { class: `badge badge-${status.replace("_", "-")}`, title }, STATUS_LABELS[status] ?? status);
}
