// The REST API with the browser's session: cookies travel with every request, and unsafe methods carry Django's
// CSRF token from the `csrftoken` cookie (set by the page that serves this app, rotated at login).

export interface Membership {
  team: string;
  role: "viewer" | "deployer" | "admin";
}

export interface User {
  id: number;
  username: string;
  email: string;
  is_superuser: boolean;
  teams: Membership[];
}

export interface Team {
  slug: string;
  name: string;
  my_role: Membership["role"] | null;
}

export interface Model {
  name: string;
  team: string;
  description: string;
  tags: string[];
  owner: string | null;
  latest_version: number | null;
  version_count: number;
  created_at: string;
  updated_at: string;
}

export type ValidationStatus = "valid" | "needs_trust" | "runtime_missing" | "invalid";

export interface ModelVersion {
  model: string;
  version: number;
  filename: string;
  sha256: string;
  size: number;
  format: string;
  framework: string;
  framework_version: string;
  metadata: Record<string, unknown>;
  trusted: boolean;
  validation_status: ValidationStatus;
  validation_error: string;
  deployable: boolean;
  created_by: string | null;
  created_at: string;
}

export interface Deployment {
  id: number;
  model: string;
  team: string;
  route: string;
  stable_version: number | null;
  default_policy: number | null;
  pooled?: boolean;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/** One version over one interval, as both the metrics websocket and the REST history send it. */
export interface MetricPoint {
  version: number;
  at: string;
  requests: number;
  rate: number;
  errors: number;
  error_rate: number;
  client_errors: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  ongoing: number | null;
  replicas_total: number;
  replicas_ready: number;
  replicas_loading: number;
  replicas_failed: number;
  replica_states: Record<string, number>;
  shadow_requests: number;
  shadow_agreements: number;
  /** Live points only: the seconds that rate, error rate and percentiles cover (counts are this second's). */
  window_s?: number;
}

export interface MetricHistory {
  deployment: number;
  start: string;
  end: string;
  step_s: number;
  source: "raw" | "rollup";
  seq: number;
  series: { version: number; points: MetricPoint[] }[];
}

export type LogLevel = "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL";

export interface LogLine {
  at: string;
  level: string;
  model: string | null;
  version: number | null;
  replica: string;
  request_id: string;
  message: string;
}

export interface DeploymentEvent {
  id?: number;
  at: string;
  kind: string;
  message: string;
  data: Record<string, unknown>;
  actor_username: string;
  rollout: number | null;
}

export type RolloutPhase = "pending" | "progressing" | "paused" | "warm" | "succeeded" | "failed" | "aborted";
export type RolloutCommand = "pause" | "resume" | "promote" | "abort";

export interface Rollout {
  id: number;
  deployment: number;
  model: string;
  from_version: number | null;
  to_version: number;
  phase: RolloutPhase;
  stable_weight: number;
  candidate_weight: number;
  shadow_percent: number;
  reason: string;
  /** The commands the rollout's state allows now (the engine's rule): show exactly these. */
  allowed_commands: RolloutCommand[];
  created_by: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A failed request, with the message the API wrote for people and its per-field errors. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }

  /** `{"name": ["A model has this name."], "tags": {"0": ["…"]}}` → one list of messages per top-level field. */
  fieldErrors(): Map<string, string[]> {
    const errors = new Map<string, string[]>();
    if (isRecord(this.body)) {
      for (const [field, value] of Object.entries(this.body)) {
        if (field !== "detail" && field !== "code") errors.set(field, messagesIn(value));
      }
    }
    return errors;
  }
}

let onSessionEnded: (() => void) | null = null;

/** Called when a request answers 401: the session expired or was ended elsewhere. */
export function whenSessionEnds(handler: () => void): void {
  onSessionEnded = handler;
}

/** Report an ended session found some other way (a websocket closed with 4401). */
export function sessionEnded(): void {
  onSessionEnded?.();
}

function cookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function messagesIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messagesIn);
  if (isRecord(value)) return Object.values(value).flatMap(messagesIn);
  return [];
}

/** The sentence to show for a failed request: DRF's `detail`, else the first field's messages. */
function messageFrom(status: number, statusText: string, body: unknown): string {
  if (isRecord(body)) {
    if (typeof body.detail === "string") return body.detail;
    for (const [field, value] of Object.entries(body)) {
      const messages = messagesIn(value);
      if (messages.length === 0) continue;
      return field === "non_field_errors" ? messages.join(" ") : `${field}: ${messages.join(" ")}`;
    }
  }
  if (status === 413) return "The file is larger than the server accepts.";
  if (status >= 500) return `The server failed (${status} ${statusText}). Try again, or check its log.`;
  return `The request failed: ${status} ${statusText}.`;
}

function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function headersFor(method: string, json: boolean): Record<string, string> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (json) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method)) {
    const token = cookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
  }
  return headers;
}

function failure(status: number, statusText: string, body: unknown, notify: boolean): ApiError {
  if (status === 401 && notify) onSessionEnded?.();
  return new ApiError(status, body, messageFrom(status, statusText, body));
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  options: { notifySessionEnd?: boolean } = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: headersFor(method, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, null, "The server did not answer. Check that Raylane is running, then try again.");
  }
  const parsed = parseBody(await response.text());
  if (!response.ok) throw failure(response.status, response.statusText, parsed, options.notifySessionEnd ?? true);
  return parsed as T;
}

/**
 * A multipart POST through XMLHttpRequest, the one browser API that reports upload progress.
 * `onProgress` receives the fraction of the body sent, from 0 to 1.
 */
export function upload<T>(path: string, form: FormData, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(headersFor("POST", false))) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      const parsed = parseBody(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) resolve(parsed as T);
      else reject(failure(xhr.status, xhr.statusText, parsed, true));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, null, "The upload was interrupted: the server closed the connection.")),
    );
    xhr.addEventListener("abort", () => reject(new ApiError(0, null, "The upload was cancelled.")));
    xhr.send(form);
  });
}

const v1 = "/api/v1";
const segment = encodeURIComponent;

export const api = {
  me: () => request<User>("GET", `${v1}/auth/me/`, undefined, { notifySessionEnd: false }),
  login: (username: string, password: string) =>
    request<User>("POST", `${v1}/auth/login/`, { username, password }, { notifySessionEnd: false }),
  logout: () => request<void>("POST", `${v1}/auth/logout/`),
  teams: () => request<Page<Team>>("GET", `${v1}/teams/?page_size=500&ordering=slug`),
  models: (search: string) =>
    request<Page<Model>>("GET", `${v1}/models/?ordering=name&page_size=200&search=${segment(search)}`),
  model: (name: string) => request<Model>("GET", `${v1}/models/${segment(name)}/`),
  createModel: (fields: { name: string; team: string; description: string; tags: string[] }) =>
    request<Model>("POST", `${v1}/models/`, fields),
  versions: (model: string) =>
    request<Page<ModelVersion>>("GET", `${v1}/models/${segment(model)}/versions/?ordering=-version&page_size=500`),
  uploadVersion: (model: string, form: FormData, onProgress: (fraction: number) => void) =>
    upload<ModelVersion>(`${v1}/models/${segment(model)}/versions/`, form, onProgress),
  deploymentOf: async (model: string): Promise<Deployment | null> => {
    const page = await request<Page<Deployment>>("GET", `${v1}/deployments/?model=${segment(model)}`);
    return page.results[0] ?? null;
  },
  createDeployment: (model: string, stableVersion: number) =>
    request<Deployment>("POST", `${v1}/deployments/`, { model, stable_version: stableVersion }),
  updateDeployment: (id: number, stableVersion: number) =>
    request<Deployment>("PATCH", `${v1}/deployments/${id}/`, { stable_version: stableVersion }),
  deployment: (id: number) => request<Deployment>("GET", `${v1}/deployments/${id}/`),
  /** `startSeconds` back from now, one point per `stepSeconds`, one series per version. */
  metrics: (deployment: number, startSeconds: number, stepSeconds: number) =>
    request<MetricHistory>(
      "GET",
      `${v1}/deployments/${deployment}/metrics/?start=-${startSeconds}&step=${stepSeconds}`,
    ),
  events: (deployment: number, limit: number) =>
    request<{ seq: number; events: DeploymentEvent[] }>(
      "GET",
      `${v1}/deployments/${deployment}/events/?limit=${limit}`,
    ),
  latestRollout: async (deployment: number): Promise<Rollout | null> => {
    const page = await request<Page<Rollout>>(
      "GET",
      `${v1}/rollouts/?deployment=${deployment}&ordering=-created_at&page_size=1`,
    );
    return page.results[0] ?? null;
  },
  rolloutCommand: (rollout: number, command: RolloutCommand) =>
    request<Rollout>("POST", `${v1}/rollouts/${rollout}/${command}/`),
};
