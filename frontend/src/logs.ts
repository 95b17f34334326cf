// The logs pane of the live deployment page: replica log lines over their own websocket, filtered by the server.
// The newest line is at the bottom; the pane follows it unless the reader scrolled up, and keeps at most
// MAX_LINES lines in the DOM so a chatty model cannot slow the page down.

import type { LogLevel, LogLine } from "./api";
import { versionColour } from "./charts";
import { field, h, showNotice } from "./dom";
import { CLOSE_BAD_REQUEST, LiveSocket, type ServerMessage, type SocketState } from "./socket";

const MAX_LINES = 1000;
const LEVELS: LogLevel[] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const TYPING_DELAY_MS = 350;
const NEAR_BOTTOM_PX = 30;

interface LogFilters {
  version: string;
  replica: string;
  level: LogLevel;
  q: string;
}

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
});

function lineElement(line: LogLine): HTMLElement {
  const level = LEVELS.includes(line.level as LogLevel) ? line.level.toLowerCase() : "info";
  const at = new Date(line.at);
  return h(
    "div",
    { class: `log-line log-${level}`, "data-level": line.level },
    h(
      "time",
      { class: "log-time", datetime: line.at, title: line.at },
      Number.isNaN(at.getTime()) ? "" : clock.format(at),
    ),
    h("span", { class: "log-level" }, line.level),
    line.version === null
      ? h("span", { class: "log-version muted", title: "Not logged while a version was predicting" }, "—")
      : h("span", { class: "log-version", style: `color: ${versionColour(line.version)}` }, `v${line.version}`),
    h("span", { class: "log-replica", title: `replica ${line.replica}` }, line.replica),
    h(
      "span",
      { class: "log-message" },
      line.message,
      line.request_id ? h("span", { class: "log-request" }, ` request ${line.request_id}`) : null,
    ),
  );
}

export class LogsPane {
  readonly element: HTMLElement;
  private readonly socket: LiveSocket;
  private readonly pane = h("div", {
    class: "log-pane",
    role: "log",
    "aria-live": "off", // a busy model logs faster than anyone can listen; the pane is there to read
    "aria-label": "Replica log lines, newest last",
    tabindex: 0,
  });
  private readonly empty = h("p", { class: "log-empty muted" }, "Waiting for log lines…");
  private readonly alertSlot = h("div", { class: "notice-slot" });
  private readonly count = h("span", { class: "small muted" });
  private readonly pauseButton = h(
    "button",
    { type: "button", class: "button button-small", "aria-pressed": "false" },
    "Pause",
  );
  private readonly newestButton = h(
    "button",
    { type: "button", class: "button button-small log-newest", hidden: true },
    "↓ Newest lines",
  );
  private readonly version = h("input", {
    type: "number",
    min: 1,
    step: 1,
    name: "version",
    placeholder: "all",
    inputmode: "numeric",
  });
  private readonly replica = h("input", {
    type: "text",
    name: "replica",
    placeholder: "any",
    autocomplete: "off",
    spellcheck: "false",
  });
  private readonly level = h(
    "select",
    { name: "level" },
    LEVELS.map((name) => h("option", { value: name }, name)),
  );
  private readonly text = h("input", {
    type: "search",
    name: "q",
    placeholder: "text in the message",
    autocomplete: "off",
  });
  private filters: LogFilters = { version: "", replica: "", level: "DEBUG", q: "" };
  private lastSeq: number | null = null;
  private paused = false;
  private held: LogLine[] = [];
  private followNewest = true;
  private typingTimer: number | undefined;
  private refusedFilters = false;

  constructor(
    deploymentId: number,
    onState: (state: SocketState) => void,
    onRefused: (code: number) => void,
    onHandshakeFailed: () => void,
  ) {
    this.socket = new LiveSocket({
      path: () => `/ws/deployments/${deploymentId}/logs/?${this.query()}`,
      onMessage: (message) => this.receive(message),
      onState,
      onRefused: (code) => {
        if (code === CLOSE_BAD_REQUEST) this.refusedFilters = true;
        else onRefused(code);
      },
      onHandshakeFailed,
    });
    const filterFields = [
      field("Version", this.version),
      field("Replica", this.replica),
      field("Minimum level", this.level),
      field("Message contains", this.text),
    ];
    for (const { element } of filterFields) element.classList.add("log-filter");
    this.level.addEventListener("change", () => this.changeFilters());
    for (const input of [this.version, this.replica, this.text]) {
      input.addEventListener("input", () => {
        window.clearTimeout(this.typingTimer);
        this.typingTimer = window.setTimeout(() => this.changeFilters(), TYPING_DELAY_MS);
      });
    }
    this.pauseButton.addEventListener("click", () => this.togglePause());
    this.newestButton.addEventListener("click", () => this.scrollToNewest());
    this.pane.addEventListener("scroll", () => {
      this.followNewest = this.pane.scrollHeight - this.pane.scrollTop - this.pane.clientHeight < NEAR_BOTTOM_PX;
      if (this.followNewest) this.newestButton.hidden = true;
    });
    this.pane.append(this.empty);
    this.element = h(
      "section",
      { class: "card logs-card", "aria-labelledby": "logs-title" },
      h(
        "div",
        { class: "card-header" },
        h("h2", { id: "logs-title" }, "Logs"),
        h("div", { class: "logs-tools" }, this.count, this.pauseButton),
      ),
      h(
        "form",
        { class: "log-filters", role: "search", "aria-label": "Filter log lines" },
        filterFields.map((f) => f.element),
      ),
      this.alertSlot,
      h("div", { class: "log-frame" }, this.pane, this.newestButton),
    );
    this.element.querySelector("form")?.addEventListener("submit", (event) => {
      event.preventDefault();
      window.clearTimeout(this.typingTimer);
      this.changeFilters();
    });
    this.updateCount();
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    window.clearTimeout(this.typingTimer);
    this.socket.stop();
  }

  get state(): SocketState {
    return this.socket.current;
  }

  private query(): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(this.filters)) if (value) params.set(name, value);
    return params.toString();
  }

  private changeFilters(): void {
    const next: LogFilters = {
      version: this.version.value.trim(),
      replica: this.replica.value.trim(),
      level: this.level.value as LogLevel,
      q: this.text.value.trim(),
    };
    if (JSON.stringify(next) === JSON.stringify(this.filters) && !this.refusedFilters) return;
    this.filters = next;
    const wire = { version: next.version || null, replica: next.replica, level: next.level, q: next.q };
    if (this.refusedFilters) {
      // The server closed on the old filters (4400); connect again with these.
      this.refusedFilters = false;
      this.socket.start();
    } else if (!this.socket.send({ filters: wire })) {
      this.socket.reconnect(0); // not connected: the next connection carries them in its query
    }
  }

  private receive(message: ServerMessage): void {
    const data = message.data as { lines?: LogLine[] } | undefined;
    if (message.type === "hello") {
      this.lastSeq = typeof message.seq === "number" ? message.seq : null;
      showNotice(this.alertSlot, "error", null);
    } else if (message.type === "backlog") {
      // The kept recent lines under the current filters: they replace what the pane showed.
      this.held = [];
      this.pane.replaceChildren(this.empty);
      this.followNewest = true;
      this.appendLines(data?.lines ?? []);
      showNotice(this.alertSlot, "error", null);
    } else if (message.type === "logs" && typeof message.seq === "number") {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) return;
      if (this.lastSeq !== null && message.seq > this.lastSeq + 1) {
        this.socket.reconnect(); // lines were missed: a new connection starts with the backlog
        return;
      }
      this.lastSeq = message.seq;
      const lines = data?.lines ?? [];
      if (this.paused) {
        this.held.push(...lines);
        if (this.held.length > MAX_LINES) this.held.splice(0, this.held.length - MAX_LINES);
        this.updateCount();
      } else {
        this.appendLines(lines);
      }
    } else if (message.type === "error" && typeof message.message === "string") {
      showNotice(this.alertSlot, "error", `The filters were not applied: ${message.message}`);
    }
  }

  private lineCount(): number {
    return this.pane.childElementCount - (this.empty.isConnected ? 1 : 0);
  }

  private appendLines(lines: LogLine[]): void {
    if (lines.length > 0) {
      const fragment = document.createDocumentFragment();
      for (const line of lines.slice(-MAX_LINES)) fragment.append(lineElement(line));
      this.empty.remove();
      this.pane.append(fragment);
      let excess = this.pane.childElementCount - MAX_LINES;
      while (excess-- > 0) this.pane.firstElementChild?.remove();
    }
    if (this.lineCount() === 0) {
      const filtered = this.filters.version || this.filters.replica || this.filters.q || this.filters.level !== "DEBUG";
      this.empty.textContent = filtered ? "No recent line matches these filters." : "No log lines yet.";
      if (!this.empty.isConnected) this.pane.append(this.empty);
    }
    if (this.followNewest) this.pane.scrollTop = this.pane.scrollHeight;
    else if (lines.length > 0) this.newestButton.hidden = false;
    this.updateCount();
  }

  private togglePause(): void {
    this.paused = !this.paused;
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    if (!this.paused) {
      const held = this.held;
      this.held = [];
      this.appendLines(held);
    }
    this.updateCount();
  }

  private scrollToNewest(): void {
    this.followNewest = true;
    this.newestButton.hidden = true;
    this.pane.scrollTop = this.pane.scrollHeight;
  }

  private updateCount(): void {
    const shown = this.lineCount();
    this.count.textContent = `${shown} ${shown === 1 ? "line" : "lines"}`;
    this.pauseButton.textContent = this.paused
      ? `Resume${this.held.length ? ` (${this.held.length} new)` : ""}`
      : "Pause";
  }
}
