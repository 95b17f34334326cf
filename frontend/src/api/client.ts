// The REST API with the browser's session: cookies travel with every request, and unsafe methods carry Django's
// CSRF token from the `csrftoken` cookie (set by the page that serves this app, rotated at login).

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

/** The sentence to show for anything a request or a command threw. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type SessionListener = () => void;
const sessionListeners = new Set<SessionListener>();

/** Hear of a session that ended (a 401 from any request, or a websocket closed with 4401). */
export function onSessionEnded(listener: SessionListener): () => void {
  sessionListeners.add(listener);
  return () => sessionListeners.delete(listener);
}

/** Report an ended session found some other way than a request (a websocket closed with 4401). */
export function sessionEnded(): void {
  for (const listener of [...sessionListeners]) listener();
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
export function messageFrom(status: number, statusText: string, body: unknown): string {
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
  if (status === 401 && notify) sessionEnded();
  return new ApiError(status, body, messageFrom(status, statusText, body));
}

export interface RequestOptions {
  /** false for the calls that ask whether a session exists (me, login): their 401 is an answer, not an ending. */
  notifySessionEnd?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: headersFor(method, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(0, null, "The server did not answer. Check that Raylane is running, then try again.");
  }
  const parsed = parseBody(await response.text());
  if (!response.ok) throw failure(response.status, response.statusText, parsed, options.notifySessionEnd ?? true);
  return parsed as T;
}

export interface UploadProgress {
  loaded: number;
  total: number;
}

/**
 * A multipart POST through XMLHttpRequest, the one browser API that reports upload progress. `onProgress` hears
 * the bytes sent so far; aborting `signal` cancels the upload.
 */
export function upload<T>(
  path: string,
  form: FormData,
  onProgress: (progress: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [name, value] of Object.entries(headersFor("POST", false))) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress({ loaded: event.loaded, total: event.total });
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
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
