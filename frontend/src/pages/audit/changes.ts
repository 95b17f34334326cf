// An audit entry's `changes` as lines people read. The server writes them as `{field: {"from": old, "to": new}}` for
// an update, `{field: value}` for what a create or a command set, and a rollout's `{"from": 1, "to": 2, ...}` pair at
// the top: each becomes one line, in the order the server wrote them.

export interface ChangeLine {
  /** The field's name; empty for a pair at the top of the changes (a rollout's versions). */
  field: string;
  /** Present when the entry says what the field was before. */
  from?: string;
  to: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPair(value: unknown): value is { from: unknown; to: unknown } {
  return isRecord(value) && Object.keys(value).length === 2 && "from" in value && "to" in value;
}

/** One value as text: null is "none", lists are comma-separated, objects compact JSON. */
export function changeValue(value: unknown): string {
  if (value === null || value === undefined) return "none";
  if (typeof value === "string") return value === "" ? "empty" : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.map(changeValue).join(", ");
  return JSON.stringify(value);
}

export function changeLines(changes: unknown): ChangeLine[] {
  if (!isRecord(changes)) return [];
  const lines: ChangeLine[] = [];
  const { from, to, ...rest } = changes;
  const topPair = "from" in changes && "to" in changes;
  if (topPair) lines.push({ field: "", from: changeValue(from), to: changeValue(to) });
  for (const [field, value] of Object.entries(topPair ? rest : changes)) {
    if (isPair(value)) lines.push({ field, from: changeValue(value.from), to: changeValue(value.to) });
    else lines.push({ field, to: changeValue(value) });
  }
  return lines;
}
