// A websocket to the control plane that reconnects by itself, with backoff, and says how it is doing.
//
// The server closes with its own codes when reconnecting cannot help (4401 not logged in, 4403 no access, 4400 a
// bad filter): those stop the socket and are handed to `onRefused`. 4008 means this browser read too slowly and
// missed messages: reconnect at once (the page reloads what it missed from REST when the next hello arrives).
//
// The server accepts before it closes with those codes, so the browser sees them. A refusal during the handshake
// (a foreign Origin, a proxy in the way) reaches a browser as HTTP 403 and then code 1006, the same as a network
// failure: a connection that never opened goes to `onHandshakeFailed`, for the page to ask the REST API.

export const CLOSE_BAD_REQUEST = 4400;
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_TOO_SLOW = 4008;
const REFUSALS = new Set([CLOSE_BAD_REQUEST, CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN]);

/** Retries before "reconnecting…" turns into "offline" (it keeps retrying, less often). */
const FAILURES_BEFORE_OFFLINE = 3;
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

export type SocketState = "connecting" | "live" | "reconnecting" | "offline" | "refused";

export interface ServerMessage {
  type: string;
  stream?: string;
  seq?: number;
  [key: string]: unknown;
}

export interface LiveSocketOptions {
  /** The path and query to connect to, asked again on every attempt (filters may have changed). */
  path: () => string;
  onMessage: (message: ServerMessage) => void;
  onState: (state: SocketState) => void;
  /** The server refused this client for a reason retrying cannot fix; the socket stays stopped. */
  onRefused: (code: number) => void;
  /** A connection closed before it opened (refused, or the network is down); it is retried all the same. */
  onHandshakeFailed?: () => void;
}

function socketUrl(path: string): string {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export class LiveSocket {
  private socket: WebSocket | null = null;
  private failures = 0; // connections in a row that closed before the server said hello
  private retryTimer: number | undefined;
  private stopped = true;
  private state: SocketState = "connecting";
  private readonly reconnectWhenOnline = () => this.reconnect(0);

  constructor(private readonly options: LiveSocketOptions) {}

  get current(): SocketState {
    return this.state;
  }

  start(): void {
    this.stopped = false;
    this.failures = 0;
    window.addEventListener("online", this.reconnectWhenOnline);
    this.open();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.reconnectWhenOnline);
    this.drop();
  }

  /** Send JSON if connected; false when not (the caller keeps what it wanted for the next connection). */
  send(message: unknown): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Close and connect again after `delayMs`: for a gap the page noticed itself, or changed filters. */
  reconnect(delayMs = 250): void {
    if (this.stopped) return;
    this.drop();
    this.setState("reconnecting");
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.open(), delayMs);
  }

  private open(): void {
    if (this.stopped) return;
    const socket = new WebSocket(socketUrl(this.options.path()));
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket) return;
      let message: ServerMessage;
      try {
        message = JSON.parse(String(event.data)) as ServerMessage;
      } catch {
        return; // not ours to understand; the server only sends JSON
      }
      if (message.type === "hello") {
        this.failures = 0;
        this.setState("live");
      }
      this.options.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return; // a socket we dropped on purpose
      this.socket = null;
      this.closed(event.code);
      if (!opened && !this.stopped) this.options.onHandshakeFailed?.();
    });
  }

  private closed(code: number): void {
    if (this.stopped) return;
    if (REFUSALS.has(code)) {
      this.stopped = true;
      this.setState("refused");
      this.options.onRefused(code);
      return;
    }
    if (code === CLOSE_TOO_SLOW) {
      this.reconnect(250);
      return;
    }
    this.failures += 1;
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.failures - 1));
    const jittered = delay * (0.8 + Math.random() * 0.4); // browsers of one team do not all come back at once
    this.setState(this.failures > FAILURES_BEFORE_OFFLINE || !navigator.onLine ? "offline" : "reconnecting");
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.open(), jittered);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  }

  private setState(state: SocketState): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onState(state);
  }
}
