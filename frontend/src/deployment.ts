// The live deployment page (#/deployments/<id>): what the deployment serves, its rollout with the commands that
// steer it, per-version numbers every second, 15 minutes of charts, rollout events and replica logs.
//
// History comes from REST and live messages from /ws/deployments/<id>/. Every message carries its stream's
// sequence number, and so does every REST answer: messages that arrive while the history loads are held, then
// those newer than the history are applied. A jump in a stream's numbers, a `resync`, or a reconnect means
// messages were missed, so the history is loaded again before going on.

import { ApiError, api, type Deployment, type MetricPoint, type RolloutCommand, type User, sessionEnded } from "./api";
import { h, notice, replace, showNotice } from "./dom";
import { LogsPane } from "./logs";
import { HISTORY_STEP_S, MetricsPanel, WINDOW_S } from "./metrics";
import { roleIn } from "./model";
import { ACTIVE_PHASES, EventList, RolloutCard, type RolloutView, activeRollout } from "./rollout";
import { CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, LiveSocket, type ServerMessage, type SocketState } from "./socket";

const EVENTS_KEPT = 200;
const HELD_MESSAGES = 300; // while the history loads; more would mean a gap, which reloads anyway
const RELOAD_RETRY_MS = 5000;
const ACCESS_CHECK_EVERY_MS = 3000;

interface MetricsMessage {
  at: string;
  stable_version: number | null;
  rollout: RolloutState | null;
  versions: MetricPoint[];
}

/** Where a rollout stands, as every push carries it (rollout events, and the metrics' `rollout`). */
interface RolloutState {
  rollout: number;
  phase: string;
  from_version: number | null;
  to_version: number;
  candidate_weight: number;
  shadow_percent: number;
  allowed_commands: RolloutCommand[];
}

interface PushedEvent {
  event: { kind: string; message: string; data: Record<string, unknown>; at: string; actor: string };
}

/** An event of a rollout, with where the rollout stands; or of the deployment itself (a deploy, a rollback). */
type RolloutEventMessage =
  | (RolloutState & PushedEvent)
  | ({ rollout: null; stable_version: number | null } & PushedEvent);

/** The page's summary of a rollout from what a push says of it; null once it is over. */
function activeSummary(state: RolloutState): RolloutView | null {
  const { rollout: id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands } = state;
  return ACTIVE_PHASES.has(phase)
    ? { id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands }
    : null;
}

export interface LivePage {
  element: HTMLElement;
  /** Close the sockets and stop the timers: called when the reader leaves the page. */
  dispose(): void;
}

export function deploymentPage(user: User, id: number): LivePage {
  const view = new LiveDeploymentView(user, id);
  view.start();
  return { element: view.element, dispose: () => view.stop() };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class LiveDeploymentView {
  readonly element = h("div", { class: "page live-page" });
  private readonly headerSlot = h("div", { class: "live-header" });
  private readonly alertSlot = h("div", { class: "notice-slot" });
  private readonly indicator = h("span", { class: "connection connection-connecting", role: "status" }, "connecting…");
  private readonly rolloutCard = new RolloutCard((rollout) => this.rolloutChanged(rollout));
  private readonly eventList = new EventList();
  private readonly metrics = new MetricsPanel();
  private readonly logs: LogsPane;
  private readonly socket: LiveSocket;
  private readonly eventsStream: string;
  private readonly metricsStream: string;
  private deployment: Deployment | null = null;
  private stable: number | null = null;
  private rollout: RolloutView | null = null;
  private readonly sequences = new Map<string, number>();
  private loading = false;
  private reloadQueued = false;
  private held: ServerMessage[] = [];
  private hellos = 0;
  private stopped = false;
  private clock: number | undefined;
  private retryTimer: number | undefined;
  private lastAccessCheck = 0;
  private readonly networkChanged = () => this.updateIndicator();

  constructor(
    private readonly user: User,
    private readonly id: number,
  ) {
    this.eventsStream = `deployment-${id}`;
    this.metricsStream = `deployment-${id}-metrics`;
    const refused = (code: number) => this.refused(code);
    const stateChanged = () => this.updateIndicator();
    const askWhy = () => void this.checkAccess();
    this.socket = new LiveSocket({
      path: () => `/ws/deployments/${id}/`,
      onMessage: (received) => this.receive(received),
      onState: stateChanged,
      onRefused: refused,
      onHandshakeFailed: askWhy,
    });
    this.logs = new LogsPane(id, stateChanged, refused, askWhy);
  }

  start(): void {
    replace(
      this.element,
      this.headerSlot,
      this.alertSlot,
      this.rolloutCard.notice,
      this.rolloutCard.element,
      this.metrics.tableSection,
      this.metrics.chartsSection,
      this.eventList.element,
      this.logs.element,
    );
    this.renderHeader();
    window.addEventListener("online", this.networkChanged);
    window.addEventListener("offline", this.networkChanged);
    this.socket.start();
    this.logs.start();
    void this.reload();
    this.metrics.tick();
    this.clock = window.setInterval(() => this.metrics.tick(), 1000);
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener("online", this.networkChanged);
    window.removeEventListener("offline", this.networkChanged);
    window.clearInterval(this.clock);
    window.clearTimeout(this.retryTimer);
    this.socket.stop();
    this.logs.stop();
  }

  // --- history and the live stream ------------------------------------------------------------------------------

  private async reload(): Promise<void> {
    if (this.stopped) return;
    if (this.loading) {
      this.reloadQueued = true;
      return;
    }
    this.loading = true;
    window.clearTimeout(this.retryTimer);
    let loaded;
    try {
      loaded = await Promise.all([
        api.deployment(this.id),
        api.metrics(this.id, WINDOW_S, HISTORY_STEP_S),
        api.events(this.id, EVENTS_KEPT),
        api.latestRollout(this.id),
      ]);
    } catch (error) {
      this.loading = false;
      if (this.stopped) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return this.noAccess();
      if (error instanceof ApiError && error.status === 401) return; // the login form is already showing
      showNotice(this.alertSlot, "error", `The history could not be loaded: ${message(error)} Trying again…`);
      this.retryTimer = window.setTimeout(() => void this.reload(), RELOAD_RETRY_MS);
      return;
    }
    if (this.stopped) return;
    const [deployment, history, events, latest] = loaded;
    this.loading = false;
    showNotice(this.alertSlot, "error", null);
    this.deployment = deployment;
    this.stable = deployment.stable_version;
    this.rollout = latest ? activeRollout(latest) : null;
    this.metrics.load(history);
    this.metrics.setRoles(this.stable, this.rollout);
    this.eventList.load(events.events);
    this.sequences.set(this.metricsStream, history.seq);
    this.sequences.set(this.eventsStream, events.seq);
    this.renderHeader();
    this.showRollout();
    this.metrics.tick();
    const held = this.held;
    this.held = [];
    for (const message of held) this.receive(message);
    if (this.reloadQueued) {
      this.reloadQueued = false;
      void this.reload();
    }
  }

  private receive(received: ServerMessage): void {
    if (this.stopped) return;
    if (received.type === "hello") {
      const reconnected = this.hellos++ > 0;
      if (this.loading) return; // what the history misses shows up as a gap once it is in
      const streams = (received.streams ?? {}) as Record<string, number>;
      const behind = Object.entries(streams).some(([stream, seq]) => (this.sequences.get(stream) ?? -1) < seq);
      if (reconnected || behind) void this.reload();
      return;
    }
    if (received.type === "resync") {
      this.updateIndicator("reconnecting"); // the server closes next (4008); the new connection reloads
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
    const rollout = data.rollout ? activeSummary(data.rollout) : null;
    const changed = data.stable_version !== this.stable || JSON.stringify(rollout) !== JSON.stringify(this.rollout);
    this.stable = data.stable_version;
    this.rollout = rollout;
    this.metrics.setRoles(this.stable, this.rollout);
    this.metrics.append(data.at, data.versions);
    if (changed) {
      this.renderHeader();
      this.showRollout();
    }
  }

  private applyRolloutEvent(data: RolloutEventMessage): void {
    const { event } = data;
    this.eventList.prepend({
      at: event.at,
      kind: event.kind,
      message: event.message,
      data: event.data,
      actor_username: event.actor,
      rollout: data.rollout,
    });
    if (data.rollout === null) {
      this.stable = data.stable_version; // a deploy or a rollback: a rollout it ended sent its own event first
    } else {
      this.rollout = activeSummary(data);
      if (data.phase === "succeeded") this.stable = data.to_version;
    }
    this.metrics.setRoles(this.stable, this.rollout);
    this.renderHeader();
    this.showRollout();
  }

  /** A command this page sent came back (its event arrives over the websocket too). */
  private rolloutChanged(rollout: RolloutView | null): void {
    if (this.stopped) return;
    this.rollout = rollout;
    this.metrics.setRoles(this.stable, rollout);
    this.renderHeader();
  }

  private showRollout(): void {
    const role = this.deployment ? roleIn(this.user, this.deployment.team) : null;
    this.rolloutCard.show(this.rollout, {
      canCommand: role === "deployer" || role === "admin",
      team: this.deployment?.team ?? "",
    });
  }

  private refused(code: number): void {
    if (code === CLOSE_UNAUTHENTICATED) {
      this.stop();
      sessionEnded();
    } else if (code === CLOSE_FORBIDDEN) {
      this.noAccess();
    }
  }

  /**
   * A websocket was refused before it opened, which browsers do not explain: ask the REST API. A 401 shows the
   * login form (api.ts reports the ended session), a 404 says there is no access; anything else, such as a network
   * failure, leaves the sockets retrying.
   */
  private async checkAccess(): Promise<void> {
    const now = Date.now();
    if (this.stopped || now - this.lastAccessCheck < ACCESS_CHECK_EVERY_MS) return;
    this.lastAccessCheck = now;
    try {
      await api.deployment(this.id);
    } catch (error) {
      if (!this.stopped && error instanceof ApiError && (error.status === 404 || error.status === 403)) this.noAccess();
    }
  }

  private noAccess(): void {
    this.stop();
    this.updateIndicator("offline");
    replace(
      this.element,
      this.breadcrumb(),
      h("h1", {}, `Deployment ${this.id}`),
      notice("error", "No access: there is no deployment with this number, or it belongs to a team you are not in."),
    );
  }

  private updateIndicator(forced?: SocketState): void {
    const states = [this.socket.current, this.logs.state].filter((state) => state !== "refused");
    let state: SocketState = "live";
    if (forced) state = forced;
    else if (!navigator.onLine || states.includes("offline")) state = "offline";
    else if (states.includes("reconnecting")) state = "reconnecting";
    else if (states.includes("connecting")) state = "connecting";
    const labels: Record<SocketState, string> = {
      live: "live",
      connecting: "connecting…",
      reconnecting: "reconnecting…",
      offline: "offline",
      refused: "offline",
    };
    this.indicator.className = `connection connection-${state}`;
    this.indicator.textContent = labels[state];
    this.indicator.title =
      state === "live"
        ? "Receiving live updates"
        : state === "offline"
          ? "The server does not answer; still trying, less often"
          : "Connecting to the live updates";
  }

  // --- rendering ----------------------------------------------------------------------------------------------

  private breadcrumb(): HTMLElement {
    const model = this.deployment?.model;
    return h(
      "nav",
      { class: "breadcrumb", "aria-label": "Breadcrumb" },
      h("a", { href: "#/models" }, "Models"),
      h("span", { "aria-hidden": "true" }, " / "),
      model ? h("a", { href: `#/models/${encodeURIComponent(model)}` }, model) : `Deployment ${this.id}`,
      h("span", { "aria-hidden": "true" }, " / "),
      h("span", { "aria-current": "page" }, "Live"),
    );
  }

  private renderHeader(): void {
    const deployment = this.deployment;
    if (deployment && !this.stopped) document.title = `${deployment.model} · live · Raylane`;
    const stable = this.stable;
    const rollout = this.rollout;
    replace(
      this.headerSlot,
      this.breadcrumb(),
      h(
        "div",
        { class: "page-header" },
        h(
          "div",
          {},
          h("h1", {}, deployment ? deployment.model : `Deployment ${this.id}`),
          deployment
            ? h(
                "div",
                { class: "meta-row" },
                h("span", { class: "team", title: "Team" }, deployment.team),
                h(
                  "span",
                  { class: "meta-item" },
                  "stable ",
                  stable === null
                    ? h("span", { class: "muted" }, "none")
                    : h("strong", { "data-stable": stable }, `v${stable}`),
                ),
                h("span", { class: "meta-item" }, "route ", h("code", {}, deployment.route)),
                h(
                  "span",
                  { class: "meta-item" },
                  rollout ? `rollout #${rollout.id} ${rollout.phase}` : "no rollout in progress",
                ),
              )
            : h("p", { class: "muted", role: "status" }, "Loading…"),
        ),
        this.indicator,
      ),
    );
  }
}
