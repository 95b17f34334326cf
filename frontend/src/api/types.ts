// Names for the API's shapes, all taken from the generated OpenAPI types (schema.d.ts, `make api-types`): a field
// the server renames or drops breaks the build here, not a page at run time.

import type { components } from "./schema";

type Schemas = components["schemas"];

export type Role = Schemas["RoleEnum"];
/** One of the signed-in user's teams and their role in it. */
export type Membership = Schemas["TeamRole"];
export type User = Schemas["User"];
export type Team = Schemas["Team"];
export type Model = Schemas["Model"];
export type ModelVersion = Schemas["ModelVersion"];
export type ValidationStatus = Schemas["ValidationStatusEnum"];
export type Deployment = Schemas["Deployment"];
export type DeploymentEvent = Schemas["DeploymentEvent"];
export type MetricHistory = Schemas["MetricSeries"];
export type MetricPoint = Schemas["Point"];
export type LogLine = Schemas["LogLine"];
export type Rollout = Schemas["Rollout"];
export type RolloutDetail = Schemas["RolloutDetail"];
export type RolloutPhase = Schemas["PhaseEnum"];
export type RolloutCommand = Schemas["AllowedCommandsEnum"];
export type ApiToken = Schemas["ApiToken"];
export type ApiTokenCreated = Schemas["ApiTokenCreated"];
export type AuditEntry = Schemas["AuditEntry"];
export type AuditAction = Schemas["ActionEnum"];
export type ServerInfo = Schemas["ServerInfo"];

export interface Page<T> {
  count: number;
  next?: string | null;
  previous?: string | null;
  results: T[];
}

export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
