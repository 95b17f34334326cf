// The live deployment page's state: the REST history merged with the websocket stream.
//
// History comes from REST and live messages from /ws/deployments/<id>/. Every message carries its stream's
// sequence number, and so does every REST answer: messages that arrive while the history loads are held, then
// those newer than the history are applied. A jump in a stream's numbers, a `resync`, or a reconnect means
// messages were missed, so the history is loaded again before going on.
//
// No React and no socket in here: the page's hook feeds messages in and renders snapshots, so the rules can be
// tested with plain messages.

import { ApiError, errorMessage } from "../../api/client";
import type { LivePoint, MetricsMessage, RolloutEventMessage } from "../../api/live";
import type { Deployment, DeploymentEvent, MetricHistory, Rollout } from "../../api/types";
import type { ServerMessage } from "../../live/socket";
import { type RolloutView, activeRollout, activeSummary } from "./rollout";
import { SeriesBuffer } from "./series";

export const EVENTS_KEPT = 200;
const HELD_MESSAGES = 300; // while the history loads; more would mean a gap, which reloads anyway
const RELOAD_RETRY_MS = 5000;

export interface LoadedHistory {
  deployment: Deployment;
  history: MetricHistory;
  events: { seq: number; events: DeploymentEvent[] };
  rollout: Rollout | null;
}

export interface LiveSnapshot {
  deployment: Deployment | null;
  stable: number | null;
  rollout: RolloutView | null;
  /** Newest first. */
  events: DeploymentEvent[];
  /** Every version's latest live second, or null before the first one. */
  latest: LivePoint[] | null;
  /** The server's time of that second, and this browser's when it arrived (ms). */
  latestAt: number;
  receivedAt: number;
  /** This browser's clock minus the server's, from the last history answer. */
  skewMs: number;
  /** Grows whenever the series change: charts redraw on it. */
  seriesRevision: number;
  loadError: string | null;
  /** The deployment is not there for this user (404/403, or the socket's 4403). */
  denied: boolean;
  /** A `resync` came: the server is about to close, the page reconnects and reloads. */
  resyncing: boolean;
}

export interface LiveOptions {
  load: () => Promise<LoadedHistory>;
  /** The clock, for tests. */
  now?: () => number;
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export class LiveDeployment {
  readonly series = new SeriesBuffer();
  private snapshot: LiveSnapshot;
  private readonly listeners = new Set<() => void>();
  private readonly sequences = new Map<string, number>();
  private readonly eventsStream: string;
  private readonly metricsStream: string;
  private loading = false;
  private reloadQueued = false;
  private held: ServerMessage[] = [];
  private hellos = 0;
  private stopped = false;
  private retryTimer: unknown = null;
  private readonly now: () => number;
  private readonly setTimer: (run: () => void, ms: number) => unknown;
  private readonly clearTimer: (timer: unknown) => void;

  constructor(
    readonly id: number,
    private readonly options: LiveOptions,
  ) {
    this.eventsStream = `deployment-${id}`;
    this.metricsStream = `deployment-${id}-metrics`;
    this.now = options.now ?? Date.now;
    this.setTimer = options.setTimer ?? ((run, ms) => window.setTimeout(run, ms));
    this.clearTimer = options.clearTimer ?? ((timer) => window.clearTimeout(timer as number));
    this.snapshot = {
      deployment: null,
      stable: null,
      rollout: null,
      events: [],
      latest: null,
      latestAt: 0,
      receivedAt: 0,
      skewMs: 0,
      seriesRevision: 0,
      loadError: null,
      denied: false,
      resyncing: false,
    };
  }

  // --- for React's useSyncExternalStore ------------------------------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LiveSnapshot => this.snapshot;

  private update(changes: Partial<LiveSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...changes, seriesRevision: this.series.revision };
    for (const listener of [...this.listeners]) listener();
  }

  // --- life ------------------------------------------------------------------------------------------------------

  start(): void {
    this.stopped = false;
    void this.reload();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
  }

  /** No access: stop, and say so. */
  deny(): void {
    this.stop();
    this.update({ denied: true });
  }

  /** A command this page sent came back with the rollout as it left it (its event arrives over the socket too). */
  rolloutChanged(rollout: Rollout): void {
    if (this.stopped) return;
    this.update({ rollout: activeRollout(rollout) });
  }

  // --- history and the live stream ------------------------------------------------------------------------------

  async reload(): Promise<void> {
    if (this.stopped) return;
    if (this.loading) {
      this.reloadQueued = true;
      return;
    }
    this.loading = true;
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
    let loaded: LoadedHistory;
    try {
      loaded = await this.options.load();
    } catch (error) {
      this.loading = false;
      if (this.stopped) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return this.deny();
      if (error instanceof ApiError && error.status === 401) return; // the login form is already showing
      this.update({ loadError: `The history could not be loaded: ${errorMessage(error)} Trying again…` });
      this.retryTimer = this.setTimer(() => void this.reload(), RELOAD_RETRY_MS);
      return;
    }
    if (this.stopped) return;
    const { deployment, history, events, rollout } = loaded;
    this.loading = false;
    const serverNow = this.series.load(history);
    this.sequences.set(this.metricsStream, history.seq);
    this.sequences.set(this.eventsStream, events.seq);
    this.update({
      deployment,
      stable: deployment.stable_version ?? null,
      rollout: activeRollout(rollout),
      events: events.events.slice(-EVENTS_KEPT).reverse(),
      skewMs: this.now() - serverNow,
      loadError: null,
      resyncing: false,
    });
    const held = this.held;
    this.held = [];
    for (const message of held) this.receive(message);
    if (this.reloadQueued) {
      this.reloadQueued = false;
      void this.reload();
    }
  }

  receive(received: ServerMessage): void {
    if (this.stopped) return;
    if (received.type === "hello") {
      const reconnected = this.hellos++ > 0;
      if (this.snapshot.resyncing) this.update({ resyncing: false });
      if (this.loading) return; // what the history misses shows up as a gap once it is in
      const streams = (received.streams ?? {}) as Record<string, number>;
      const behind = Object.entries(streams).some(([stream, seq]) => (this.sequences.get(stream) ?? -1) < seq);
      if (reconnected || behind) void this.reload();
      return;
    }
    if (received.type === "resync") {
      this.update({ resyncing: true }); // the server closes next (4008); the new connection reloads
      return;
    }
    if (received.type !== "metrics" && received.type !== "rollout_event") return;
    if (this.loading) {
      this.held.push(received);
      if (this.held.length > HELD_MESSAGES) this.held.shift();
      return;
    }
    const stream = received.stream ?? "";
    const seq = received.seq;
    const last = this.sequences.get(stream);
    if (typeof seq === "number" && last !== undefined) {
      if (seq <= last) {
        // Already in the history. A sample still goes to the table, which shows only live seconds (the history
        // has 5-second points); appending it again is harmless, an event twice would be listed twice.
        if (received.type === "metrics") this.applyMetrics(received.data as MetricsMessage);
        return;
      }
      if (seq > last + 1) {
        this.held.push(received);
        void this.reload();
        return;
      }
    }
    if (typeof seq === "number") this.sequences.set(stream, seq);
    if (received.type === "metrics") this.applyMetrics(received.data as MetricsMessage);
    else this.applyRolloutEvent(received.data as RolloutEventMessage);
  }

  private applyMetrics(data: MetricsMessage): void {
    const at = Date.parse(data.at);
    if (at < this.snapshot.latestAt) return; // an older second than the table shows: the charts have it already
    this.series.append(data.versions);
    this.update({
      stable: data.stable_version,
      rollout: activeSummary(data.rollout),
      latest: data.versions,
      latestAt: at,
      receivedAt: this.now(),
    });
  }

  private applyRolloutEvent(data: RolloutEventMessage): void {
    const { event } = data;
    const listed: DeploymentEvent = {
      id: event.id ?? -this.now(),
      at: event.at,
      kind: event.kind,
      message: event.message,
      data: event.data,
      actor_username: event.actor,
      rollout: data.rollout,
    };
    const events = [listed, ...this.snapshot.events].slice(0, EVENTS_KEPT);
    if (data.rollout === null) {
      // A deploy or a rollback: a rollout it ended sent its own event first.
      this.update({ events, stable: data.stable_version });
    } else {
      const stable = data.phase === "succeeded" ? data.to_version : this.snapshot.stable;
      this.update({ events, rollout: activeSummary(data), stable });
    }
  }
}
