import type { SocketState } from "../live/socket";

const LABELS: Record<SocketState, string> = {
  live: "live",
  connecting: "connecting…",
  reconnecting: "reconnecting…",
  offline: "offline",
  refused: "offline",
};

const TITLES: Record<SocketState, string> = {
  live: "Receiving live updates",
  connecting: "Connecting to the live updates",
  reconnecting: "Connecting to the live updates",
  offline: "The server does not answer; still trying, less often",
  refused: "The server does not answer; still trying, less often",
};

/** One state for several sockets: the worst of them, "offline" when the browser itself is. */
export function combinedState(states: SocketState[], online: boolean): SocketState {
  const open = states.filter((state) => state !== "refused");
  if (!online || open.includes("offline")) return "offline";
  if (open.includes("reconnecting")) return "reconnecting";
  if (open.includes("connecting")) return "connecting";
  return "live";
}

export function ConnectionIndicator({ state }: { state: SocketState }) {
  return (
    <span className={`connection connection-${state}`} role="status" title={TITLES[state]}>
      {LABELS[state]}
    </span>
  );
}
