// The websocket messages of /ws/deployments/<id>/ and its logs stream. They are not REST answers, so the OpenAPI
// schema does not describe them; their points and lines are the schema's own shapes.

import type { LogLine, MetricPoint, RolloutCommand } from "./types";

/** Where a rollout stands, as every push carries it (rollout events, and the metrics' `rollout`). */
export interface RolloutState {
  rollout: number;
  phase: string;
  from_version: number | null;
  to_version: number;
  candidate_weight: number;
  shadow_percent: number;
  allowed_commands: RolloutCommand[];
}

/** A live point: as the REST history's, plus the seconds its rate and percentiles cover. */
export type LivePoint = MetricPoint & { window_s?: number };

/** One second of a deployment, every version's numbers (`metrics` on the deployment's socket). */
export interface MetricsMessage {
  deployment?: number;
  at: string;
  stable_version: number | null;
  rollout: RolloutState | null;
  replica_states?: Record<string, number>;
  versions: LivePoint[];
}

export interface PushedEvent {
  event: { id?: number; kind: string; message: string; data: unknown; at: string; actor: string };
}

/** An event of a rollout, with where the rollout stands; or of the deployment itself (a deploy, a rollback). */
export type RolloutEventMessage =
  | (RolloutState & PushedEvent)
  | ({ rollout: null; stable_version: number | null } & PushedEvent);

export interface LogsMessage {
  lines?: LogLine[];
}
