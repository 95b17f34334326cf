// The lines the logs pane holds: the newest MAX_LINES, each with a key of its own for React.

import type { LogLine } from "../../api/types";

export const MAX_LINES = 1000;

export interface KeyedLine extends LogLine {
  key: number;
}

let nextKey = 1;

export function keyed(lines: LogLine[]): KeyedLine[] {
  return lines.map((line) => ({ ...line, key: nextKey++ }));
}

/** `lines` then `incoming`, keeping the newest `max`. */
export function appendLines<T>(lines: T[], incoming: T[], max = MAX_LINES): T[] {
  if (incoming.length === 0) return lines;
  const joined = lines.concat(incoming.length > max ? incoming.slice(-max) : incoming);
  return joined.length > max ? joined.slice(joined.length - max) : joined;
}
