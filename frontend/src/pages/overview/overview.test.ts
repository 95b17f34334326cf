import { describe, expect, it } from "vitest";

import type { LivePoint, MetricsMessage } from "../../api/live";
import type { Deployment, Rollout } from "../../api/types";
import { byAttention, matchesState, overviewRow } from "./overview";

const deployment = { id: 1, model: "iris", team: "ml", stable_version: 1, pooled: false } as Deployment;

function point(version: number, fields: Partial<LivePoint> = {}): LivePoint {
  return {
    version,
    at: "2026-11-27T12:00:00Z",
    requests: 0,
    rate: 0,
    errors: 0,
    error_rate: 0,
    client_errors: 0,
    p50_ms: null,
    p95_ms: null,
    p99_ms: null,
    mean_ms: null,
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

function live(fields: Partial<MetricsMessage> = {}): MetricsMessage {
  return {
    at: "2026-11-27T12:00:00Z",
    stable_version: 1,
    rollout: null,
    replica_states: { RUNNING: 2 },
    versions: [point(1, { rate: 40, requests: 40, p99_ms: 6 })],
    ...fields,
  };
}

describe("overviewRow", () => {
  it("a steady deployment: its stable version at 100 %, live totals, healthy", () => {
    const row = overviewRow(deployment, null, live());
    expect(row.stable).toEqual({ version: 1, weight: 100 });
    expect(row.canary).toBeNull();
    expect(row.state).toBe("steady");
    expect([row.rate, row.p99, row.errorRate]).toEqual([40, 6, 0]);
    expect(row.replicas).toEqual({ running: 2, total: 2 });
    expect(row.problems).toEqual([]);
  });

  it("a canary: both versions with their weights; requests add up, errors weighted, the worst p99", () => {
    const message = live({
      rollout: {
        rollout: 5, phase: "progressing", from_version: 1, to_version: 2, candidate_weight: 20, shadow_percent: 0,
        allowed_commands: ["pause", "abort"],
      },
      versions: [
        point(1, { rate: 80, requests: 80, p99_ms: 6, error_rate: 0 }),
        point(2, { rate: 20, requests: 20, p99_ms: 30, error_rate: 0.01 }),
      ],
    });
    const row = overviewRow(deployment, null, message);
    expect(row.stable).toEqual({ version: 1, weight: 80 });
    expect(row.canary).toEqual({ version: 2, weight: 20, shadowPercent: 0 });
    expect(row.state).toBe("progressing");
    expect(row.rolloutId).toBe(5);
    expect(row.rate).toBe(100);
    expect(row.p99).toBe(30);
    expect(row.errorRate).toBeCloseTo(0.002);
  });

  it("before the first live second, the REST answers: stable version and an active rollout", () => {
    const latest = { id: 7, phase: "paused", from_version: 1, to_version: 2, candidate_weight: 10, shadow_percent: 0 } as Rollout;
    const row = overviewRow(deployment, latest, undefined);
    expect(row.state).toBe("paused");
    expect(row.canary?.weight).toBe(10);
    expect(row.rate).toBeNull();
    expect(row.replicas).toBeNull();
  });

  it("a rollout the analysis rolled back stands out, with its reason", () => {
    const latest = { id: 7, phase: "failed", to_version: 2, reason: "error rate 12 % > 1 %" } as Rollout;
    const row = overviewRow(deployment, latest, live());
    expect(row.state).toBe("steady");
    expect(row.problems).toEqual([{ kind: "rolled_back", text: "Rollout #7 of v2 rolled back: error rate 12 % > 1 %" }]);
  });

  it("a version that fails to load or answers with errors, and unhealthy replicas, stand out", () => {
    const message = live({
      replica_states: { RUNNING: 1, UNHEALTHY: 1 },
      versions: [
        point(1, { rate: 10, requests: 10, error_rate: 0.2 }),
        point(2, { replicas_failed: 1, replicas_ready: 1 }),
      ],
    });
    const kinds = overviewRow(deployment, null, message).problems.map((problem) => problem.text);
    expect(kinds).toEqual([
      "v1 answers 20 % of requests with 5xx",
      "v2 failed to load on 1 of 2 replicas",
      "1 replica is unhealthy",
    ]);
  });

  it("a deployed model with no replica at all stands out", () => {
    const message = live({ replica_states: {}, versions: [point(1, { replicas_total: 0, replicas_ready: 0 })] });
    expect(overviewRow(deployment, null, message).problems.map((p) => p.kind)).toEqual(["no_replicas"]);
  });
});

describe("filters and order", () => {
  const steady = overviewRow(deployment, null, live());
  const paused = overviewRow({ ...deployment, id: 2, model: "alpha" }, { id: 3, phase: "paused", to_version: 2, candidate_weight: 10 } as Rollout, undefined);
  const broken = overviewRow({ ...deployment, id: 3, model: "zeta" }, { id: 4, phase: "failed", to_version: 2, reason: "" } as Rollout, undefined);

  it("filters by state", () => {
    expect([steady, paused, broken].filter((row) => matchesState(row, "problem")).map((row) => row.id)).toEqual([3]);
    expect([steady, paused, broken].filter((row) => matchesState(row, "paused")).map((row) => row.id)).toEqual([2]);
    expect([steady, paused, broken].filter((row) => matchesState(row, "steady")).map((row) => row.id)).toEqual([1, 3]);
    expect([steady, paused, broken].filter((row) => matchesState(row, ""))).toHaveLength(3);
  });

  it("puts problems first, then orders by model name", () => {
    expect([steady, paused, broken].sort(byAttention).map((row) => row.model)).toEqual(["zeta", "alpha", "iris"]);
  });
});
