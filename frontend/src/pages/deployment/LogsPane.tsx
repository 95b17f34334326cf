// The logs pane of the live deployment page: replica log lines over their own websocket, filtered by the server.
// The newest line is at the bottom; the pane follows it unless the reader scrolled up, and keeps at most
// MAX_LINES lines so a chatty model cannot slow the page down.

import { type FormEvent, useEffect, useLayoutEffect, useRef, useState } from "react";

import { sessionEnded } from "../../api/client";
import type { LogsMessage } from "../../api/live";
import { LOG_LEVELS, type LogLevel } from "../../api/types";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import {
  CLOSE_BAD_REQUEST,
  CLOSE_FORBIDDEN,
  CLOSE_UNAUTHENTICATED,
  LiveSocket,
  type ServerMessage,
  type SocketState,
} from "../../live/socket";
import { versionColour } from "../../lib/colours";
import { plural } from "../../lib/format";
import { type KeyedLine, MAX_LINES, appendLines, keyed } from "./logBuffer";

const TYPING_DELAY_MS = 350;
const NEAR_BOTTOM_PX = 30;

interface LogFilters {
  version: string;
  replica: string;
  level: LogLevel;
  q: string;
}

const NO_FILTERS: LogFilters = { version: "", replica: "", level: "DEBUG", q: "" };

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
});

function query(filters: LogFilters): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
  return params.toString();
}

function LogLineRow({ line }: { line: KeyedLine }) {
  const level = (LOG_LEVELS as readonly string[]).includes(line.level) ? line.level.toLowerCase() : "info";
  const at = new Date(line.at);
  return (
    <div className={`log-line log-${level}`} data-level={line.level}>
      <time className="log-time" dateTime={line.at} title={line.at}>
        {Number.isNaN(at.getTime()) ? "" : clock.format(at)}
      </time>
      <span className="log-level">{line.level}</span>
      {line.version === null ? (
        <span className="log-version muted" title="Not logged while a version was predicting">
          —
        </span>
      ) : (
        <span className="log-version" style={{ color: versionColour(line.version) }}>{`v${line.version}`}</span>
      )}
      <span className="log-replica" title={`replica ${line.replica}`}>
        {line.replica}
      </span>
      <span className="log-message">
        {line.message}
        {line.request_id ? <span className="log-request">{` request ${line.request_id}`}</span> : null}
      </span>
    </div>
  );
}

export function LogsPane({
  deployment,
  onState,
  onHandshakeFailed,
  onForbidden,
}: {
  deployment: number;
  onState: (state: SocketState) => void;
  onHandshakeFailed: () => void;
  onForbidden: () => void;
}) {
  const [lines, setLines] = useState<KeyedLine[]>([]);
  const [held, setHeld] = useState<KeyedLine[]>([]);
  const [paused, setPaused] = useState(false);
  const [showNewest, setShowNewest] = useState(false);
  const [filterError, setFilterError] = useState<string | null>(null);
  const [backlogSeen, setBacklogSeen] = useState(false);
  const [draft, setDraft] = useState<LogFilters>(NO_FILTERS);
  const [applied, setApplied] = useState<LogFilters>(NO_FILTERS);

  const pane = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const filtersRef = useRef(applied);
  const lastSeq = useRef<number | null>(null);
  const refusedFilters = useRef(false);
  const socket = useRef<LiveSocket | null>(null);
  const callbacks = useRef({ onState, onHandshakeFailed, onForbidden });
  callbacks.current = { onState, onHandshakeFailed, onForbidden };

  const receive = (message: ServerMessage) => {
    const data = message.data as LogsMessage | undefined;
    if (message.type === "hello") {
      lastSeq.current = typeof message.seq === "number" ? message.seq : null;
      setFilterError(null);
    } else if (message.type === "backlog") {
      // The kept recent lines under the current filters: they replace what the pane showed.
      follow.current = true;
      setBacklogSeen(true);
      setHeld([]);
      setLines(appendLines([], keyed(data?.lines ?? [])));
      setFilterError(null);
    } else if (message.type === "logs" && typeof message.seq === "number") {
      if (lastSeq.current !== null && message.seq <= lastSeq.current) return;
      if (lastSeq.current !== null && message.seq > lastSeq.current + 1) {
        socket.current?.reconnect(); // lines were missed: a new connection starts with the backlog
        return;
      }
      lastSeq.current = message.seq;
      const incoming = keyed(data?.lines ?? []);
      if (pausedRef.current) setHeld((current) => appendLines(current, incoming));
      else setLines((current) => appendLines(current, incoming));
    } else if (message.type === "error" && typeof message.message === "string") {
      setFilterError(`The filters were not applied: ${message.message}`);
    }
  };
  const receiveRef = useRef(receive);
  receiveRef.current = receive;

  useEffect(() => {
    const live = new LiveSocket({
      path: () => `/ws/deployments/${deployment}/logs/?${query(filtersRef.current)}`,
      onMessage: (message) => receiveRef.current(message),
      onState: (state) => callbacks.current.onState(state),
      onRefused: (code) => {
        if (code === CLOSE_BAD_REQUEST) refusedFilters.current = true;
        else if (code === CLOSE_UNAUTHENTICATED) sessionEnded();
        else if (code === CLOSE_FORBIDDEN) callbacks.current.onForbidden();
      },
      onHandshakeFailed: () => callbacks.current.onHandshakeFailed(),
    });
    socket.current = live;
    live.start();
    return () => {
      live.stop();
      socket.current = null;
    };
  }, [deployment]);

  // Filters apply a moment after typing stops (the level at once): sent over the open socket, or carried by the
  // next connection's query.
  useEffect(() => {
    if (JSON.stringify(draft) === JSON.stringify(applied)) return;
    const timer = window.setTimeout(() => setApplied(draft), draft.level !== applied.level ? 0 : TYPING_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [draft, applied]);

  useEffect(() => {
    if (JSON.stringify(applied) === JSON.stringify(filtersRef.current) && !refusedFilters.current) return;
    filtersRef.current = applied;
    const live = socket.current;
    if (!live) return;
    const wire = { version: applied.version || null, replica: applied.replica, level: applied.level, q: applied.q };
    if (refusedFilters.current) {
      refusedFilters.current = false; // the server closed on the old filters (4400): connect again with these
      live.start();
    } else if (!live.send({ filters: wire })) {
      live.reconnect(0);
    }
  }, [applied]);

  useLayoutEffect(() => {
    const element = pane.current;
    if (!element) return;
    if (follow.current) element.scrollTop = element.scrollHeight;
    else if (lines.length > 0) setShowNewest(true);
  }, [lines]);

  const togglePause = () => {
    if (paused) {
      setLines((current) => appendLines(current, held));
      setHeld([]);
    }
    setPaused(!paused);
  };

  const scrollToNewest = () => {
    follow.current = true;
    setShowNewest(false);
    if (pane.current) pane.current.scrollTop = pane.current.scrollHeight;
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setApplied(draft);
  };

  const filtered = applied.version || applied.replica || applied.q || applied.level !== "DEBUG";
  const set = (name: keyof LogFilters) => (event: { target: { value: string } }) =>
    setDraft((current) => ({ ...current, [name]: event.target.value }));

  return (
    <section className="card logs-card" aria-labelledby="logs-title">
      <div className="card-header">
        <h2 id="logs-title">Logs</h2>
        <div className="logs-tools">
          <span className="small muted">{plural(lines.length, "line")}</span>
          <button type="button" className="button button-small" aria-pressed={paused} onClick={togglePause}>
            {paused ? `Resume${held.length ? ` (${held.length} new)` : ""}` : "Pause"}
          </button>
        </div>
      </div>
      <form className="log-filters" role="search" aria-label="Filter log lines" onSubmit={submit}>
        <Field label="Version" className="log-filter">
          {(props) => (
            <input
              {...props}
              type="number"
              min={1}
              step={1}
              name="version"
              placeholder="all"
              inputMode="numeric"
              value={draft.version}
              onChange={set("version")}
            />
          )}
        </Field>
        <Field label="Replica" className="log-filter">
          {(props) => (
            <input
              {...props}
              type="text"
              name="replica"
              placeholder="any"
              autoComplete="off"
              spellCheck={false}
              value={draft.replica}
              onChange={set("replica")}
            />
          )}
        </Field>
        <Field label="Minimum level" className="log-filter">
          {(props) => (
            <select {...props} name="level" value={draft.level} onChange={set("level")}>
              {LOG_LEVELS.map((level) => (
                <option key={level} value={level}>
                  {level}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Message contains" className="log-filter">
          {(props) => (
            <input
              {...props}
              type="search"
              name="q"
              placeholder="text in the message"
              autoComplete="off"
              value={draft.q}
              onChange={set("q")}
            />
          )}
        </Field>
      </form>
      {filterError ? <Notice kind="error">{filterError}</Notice> : null}
      <div className="log-frame">
        <div
          ref={pane}
          className="log-pane"
          role="log"
          aria-live="off" // a busy model logs faster than anyone can listen; the pane is there to read
          aria-label="Replica log lines, newest last"
          tabIndex={0}
          onScroll={(event) => {
            const element = event.currentTarget;
            follow.current = element.scrollHeight - element.scrollTop - element.clientHeight < NEAR_BOTTOM_PX;
            if (follow.current) setShowNewest(false);
          }}
        >
          {lines.length === 0 ? (
            <p className="log-empty muted">
              {filtered
                ? "No recent line matches these filters."
                : backlogSeen
                  ? "No log lines yet."
                  : "Waiting for log lines…"}
            </p>
          ) : (
            lines.map((line) => <LogLineRow key={line.key} line={line} />)
          )}
        </div>
        <button type="button" className="button button-small log-newest" hidden={!showNewest} onClick={scrollToNewest}>
          ↓ Newest lines
        </button>
      </div>
      <p className="visually-hidden">{`The pane keeps the newest ${MAX_LINES} lines.`}</p>
    </section>
  );
}
