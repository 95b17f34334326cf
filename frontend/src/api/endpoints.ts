// Every REST call the console makes, typed with the generated schema's shapes. Pages never build URLs themselves.

import { type UploadProgress, request, upload } from "./client";
import type {
  ApiToken,
  ApiTokenCreated,
  AuditEntry,
  Deployment,
  DeploymentEvent,
  MetricHistory,
  Model,
  ModelVersion,
  Page,
  Rollout,
  RolloutCommand,
  ServerInfo,
  Team,
  User,
} from "./types";

const v1 = "/api/v1";
const segment = encodeURIComponent;

/** Lists the console shows whole: large pages, so one request answers for any team's day-to-day size. */
const WHOLE_LIST = 500;

export interface NewModel {
  name: string;
  team: string;
  description: string;
  tags: string[];
}

export const api = {
  info: () => request<ServerInfo>("GET", `${v1}/info/`),
  me: () => request<User>("GET", `${v1}/auth/me/`, undefined, { notifySessionEnd: false }),
  login: (username: string, password: string) =>
    request<User>("POST", `${v1}/auth/login/`, { username, password }, { notifySessionEnd: false }),
  logout: () => request<void>("POST", `${v1}/auth/logout/`),

  teams: () => request<Page<Team>>("GET", `${v1}/teams/?page_size=${WHOLE_LIST}&ordering=slug`),

  models: (search: string) =>
    request<Page<Model>>("GET", `${v1}/models/?ordering=name&page_size=200&search=${segment(search)}`),
  model: (name: string) => request<Model>("GET", `${v1}/models/${segment(name)}/`),
  createModel: (fields: NewModel) => request<Model>("POST", `${v1}/models/`, fields),
  versions: (model: string) =>
    request<Page<ModelVersion>>(
      "GET",
      `${v1}/models/${segment(model)}/versions/?ordering=-version&page_size=${WHOLE_LIST}`,
    ),
  uploadVersion: (model: string, form: FormData, onProgress: (progress: UploadProgress) => void, signal?: AbortSignal) =>
    upload<ModelVersion>(`${v1}/models/${segment(model)}/versions/`, form, onProgress, signal),

  deployments: () =>
    request<Page<Deployment>>("GET", `${v1}/deployments/?ordering=model__name&page_size=${WHOLE_LIST}`),
  deploymentOf: async (model: string): Promise<Deployment | null> => {
    const page = await request<Page<Deployment>>("GET", `${v1}/deployments/?model=${segment(model)}`);
    return page.results[0] ?? null;
  },
  deployment: (id: number) => request<Deployment>("GET", `${v1}/deployments/${id}/`),
  createDeployment: (model: string, stableVersion: number) =>
    request<Deployment>("POST", `${v1}/deployments/`, { model, stable_version: stableVersion }),
  updateDeployment: (id: number, stableVersion: number) =>
    request<Deployment>("PATCH", `${v1}/deployments/${id}/`, { stable_version: stableVersion }),
  /** `startSeconds` back from now, one point per `stepSeconds`, one series per version. */
  metrics: (deployment: number, startSeconds: number, stepSeconds: number) =>
    request<MetricHistory>("GET", `${v1}/deployments/${deployment}/metrics/?start=-${startSeconds}&step=${stepSeconds}`),
  events: (deployment: number, limit: number) =>
    request<{ seq: number; events: DeploymentEvent[] }>("GET", `${v1}/deployments/${deployment}/events/?limit=${limit}`),

  latestRollout: async (deployment: number): Promise<Rollout | null> => {
    const page = await request<Page<Rollout>>(
      "GET",
      `${v1}/rollouts/?deployment=${deployment}&ordering=-created_at&page_size=1`,
    );
    return page.results[0] ?? null;
  },
  rolloutCommand: (rollout: number, command: RolloutCommand) =>
    request<Rollout>("POST", `${v1}/rollouts/${rollout}/${command}/`),

  tokens: () => request<Page<ApiToken>>("GET", `${v1}/tokens/?ordering=-created_at&page_size=${WHOLE_LIST}`),
  /** The answer carries the key, the one time the server ever sends it. */
  createToken: (name: string, expiresInDays: number) =>
    request<ApiTokenCreated>("POST", `${v1}/tokens/`, { name, expires_in_days: expiresInDays }),
  revokeToken: (id: number) => request<void>("DELETE", `${v1}/tokens/${id}/`),

  /** One page of the audit log; `query` is the filters and page as a query string (pages/audit/filters.ts). */
  audit: (query: string) => request<Page<AuditEntry>>("GET", `${v1}/audit/${query ? `?${query}` : ""}`),
};
