// How numbers, sizes and times read in the console. Pure functions: the same input reads the same everywhere.

import type { ValidationStatus } from "../api/types";

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

const twoDecimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** 0.1234 → "0.12", 40 → "40", 1234.5 → "1,235": as many digits as the size of the number deserves. */
export function number(value: number): string {
  if (Math.abs(value) >= 100) return whole.format(value);
  return (Math.abs(value) < 1 ? twoDecimals : oneDecimal).format(value);
}

/** 9.6 → "9.6 ms"; null (no request in the interval) → "—". */
export function milliseconds(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${number(value)} ms`;
}

/** A fraction as a percentage: 0.0125 → "1.25 %". */
export function percent(fraction: number): string {
  return `${number(fraction * 100)} %`;
}

export function shortSha(sha256: string): string {
  return sha256.slice(0, 12);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeOfDayFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayAndTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function dateTime(iso: string): string {
  return dateFormat.format(new Date(iso));
}

export function timeOfDay(at: number | string | Date): string {
  return timeOfDayFormat.format(new Date(at));
}

/** Today's times as 12:04:05, older ones with their date. */
export function eventTime(iso: string, now: Date = new Date()): string {
  const at = new Date(iso);
  return (at.toDateString() === now.toDateString() ? timeOfDayFormat : dayAndTimeFormat).format(at);
}

export function fullDateTime(iso: string): string {
  return dayAndTimeFormat.format(new Date(iso));
}

/** "1 line", "2 lines". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

export const STATUS_LABELS: Record<ValidationStatus, string> = {
  valid: "valid",
  needs_trust: "needs trust",
  runtime_missing: "runtime missing",
  invalid: "invalid",
};

export const STATUS_EXPLANATIONS: Record<ValidationStatus, string> = {
  valid: "Loaded and checked on upload: ready to deploy.",
  needs_trust: "This format can run code when loaded: a team admin must mark the version trusted before it deploys.",
  runtime_missing: "The framework for this format is not installed on the control plane, so it was not load-checked.",
  invalid: "The file could not be loaded.",
};
