// The overview's rows: each deployment with what serves it, how its rollout stands, its live numbers and the
// problems that should catch the eye. Pure: from the API's deployment, its latest rollout and its latest live
// second (the same websocket message the live page reads) to a row.

import type { MetricsMessage } from "../../api/live";
import type { Deployment, Rollout } from "../../api/types";
import { ACTIVE_PHASES } from "../deployment/rollout";

/** A version answering more than this share of requests with 5xx counts as failing. */
export const FAILING_ERROR_RATE = 0.05;
/** Serve's replica states that mean a replica is not serving and will not by itself. */
const BROKEN_REPLICA_STATES = new Set(["UNHEALTHY", "DEPLOY_FAILED", "FAILED"]);

export type ProblemKind = "rolled_back" | "failing_version" | "unhealthy_replicas" | "no_replicas";

export interface Problem {
  kind: ProblemKind;
  text: string;
}

export interface ServedVersion {
  version: number;
  weight: number;
}

export interface OverviewRow {
  id: number;
  model: string;
  team: string;
  stable: ServedVersion | null;
  /** The candidate of an active rollout (with its weight, and its mirrored share for shadows). */
  canary: (ServedVersion & { shadowPercent: number }) | null;
  /** "steady" without an active rollout, else the rollout's phase. */
  state: string;
  rolloutId: number | null;
  /** Live numbers of the latest second; null before the first sample. */
  rate: number | null;
  p99: number | null;
  errorRate: number | null;
  replicas: { running: number; total: number } | null;
  problems: Problem[];
}

/** Every deployment version's numbers in one: requests add up, the error rate is weighted by requests, and the
 * p99 is the worst version's (a canary's slow tail must not hide behind the stable version's volume). */
function totals(message: MetricsMessage): Pick<OverviewRow, "rate" | "p99" | "errorRate"> {
  let rate = 0;
  let errors = 0;
  let p99: number | null = null;
  for (const point of message.versions) {
    rate += point.rate;
    errors += point.rate * point.error_rate;
    if (point.p99_ms !== null && (p99 === null || point.p99_ms > p99)) p99 = point.p99_ms;
  }
  return { rate, p99, errorRate: rate > 0 ? errors / rate : 0 };
}

function replicaCount(message: MetricsMessage): { running: number; total: number } {
  const states = message.replica_states ?? {};
  const fromStates = Object.values(states).reduce((sum, count) => sum + count, 0);
  const total = Math.max(fromStates, ...message.versions.map((point) => point.replicas_total));
  return { running: states.RUNNING ?? 0, total };
}

function problemsOf(
  deployment: Deployment,
  latest: Rollout | null | undefined,
  live: MetricsMessage | null | undefined,
): Problem[] {
  const problems: Problem[] = [];
  if (latest && latest.phase === "failed") {
    const why = latest.reason ? `: ${latest.reason}` : "";
    problems.push({ kind: "rolled_back", text: `Rollout #${latest.id} of v${latest.to_version} rolled back${why}` });
  }
  if (!live) return problems;
  for (const point of live.versions) {
    if (point.replicas_failed > 0) {
      problems.push({
        kind: "failing_version",
        text: `v${point.version} failed to load on ${point.replicas_failed} of ${point.replicas_total} replicas`,
      });
    } else if (point.requests > 0 && point.error_rate >= FAILING_ERROR_RATE) {
      problems.push({
        kind: "failing_version",
        text: `v${point.version} answers ${Math.round(point.error_rate * 100)} % of requests with 5xx`,
      });
    }
  }
  const broken = Object.entries(live.replica_states ?? {})
    .filter(([state, count]) => BROKEN_REPLICA_STATES.has(state) && count > 0)
    .reduce((sum, [, count]) => sum + count, 0);
  if (broken > 0) {
    problems.push({ kind: "unhealthy_replicas", text: `${broken} ${broken === 1 ? "replica is" : "replicas are"} unhealthy` });
  }
  if (deployment.stable_version !== null && deployment.stable_version !== undefined && !deployment.pooled) {
    const { total } = replicaCount(live);
    if (total === 0) problems.push({ kind: "no_replicas", text: "No model server replica is running" });
  }
  return problems;
}

export function overviewRow(
  deployment: Deployment,
  latest: Rollout | null | undefined,
  live: MetricsMessage | null | undefined,
): OverviewRow {
  // The live second knows best what serves now; before it arrives, the REST answers do.
  const rollout = live ? live.rollout : latest && ACTIVE_PHASES.has(latest.phase) ? latest : null;
  const active = rollout && ACTIVE_PHASES.has(rollout.phase) ? rollout : null;
  const stableNumber = live ? live.stable_version : (deployment.stable_version ?? null);
  const rolloutId = active ? ("rollout" in active ? active.rollout : active.id) : null;
  let stable: ServedVersion | null = null;
  let canary: OverviewRow["canary"] = null;
  if (active) {
    const from = active.from_version ?? stableNumber;
    stable = from === null ? null : { version: from, weight: 100 - active.candidate_weight };
    canary = { version: active.to_version, weight: active.candidate_weight, shadowPercent: active.shadow_percent };
  } else if (stableNumber !== null) {
    stable = { version: stableNumber, weight: 100 };
  }
  return {
    id: deployment.id,
    model: deployment.model,
    team: deployment.team,
    stable,
    canary,
    state: active ? active.phase : "steady",
    rolloutId,
    ...(live ? totals(live) : { rate: null, p99: null, errorRate: null }),
    replicas: live ? replicaCount(live) : null,
    problems: problemsOf(deployment, latest, live),
  };
}

export const STATE_FILTERS = [
  { value: "", label: "Any state" },
  { value: "problem", label: "Needs attention" },
  { value: "rolling", label: "Rolling out" },
  { value: "paused", label: "Paused" },
  { value: "steady", label: "Steady" },
] as const;

export type StateFilter = (typeof STATE_FILTERS)[number]["value"];

export function matchesState(row: OverviewRow, filter: string): boolean {
  switch (filter) {
    case "problem":
      return row.problems.length > 0;
    case "rolling":
      return row.state === "pending" || row.state === "progressing" || row.state === "warm";
    case "paused":
      return row.state === "paused";
    case "steady":
      return row.state === "steady";
    default:
      return true;
  }
}

/** Problems first, then by model name: what needs a look is at the top. */
export function byAttention(a: OverviewRow, b: OverviewRow): number {
  const problems = Number(b.problems.length > 0) - Number(a.problems.length > 0);
  return problems || a.model.localeCompare(b.model);
}
