// The overview's live numbers: one deployment websocket per deployment shown (the same stream the live page reads),
// keeping only each one's latest second. Updates are gathered and applied four times a second, not per message.

import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";

import { sessionEnded } from "../../api/client";
import { keys } from "../../api/keys";
import type { MetricsMessage, RolloutEventMessage } from "../../api/live";
import { CLOSE_UNAUTHENTICATED, LiveSocket, type SocketState } from "../../live/socket";

/** More sockets than this and the overview shows the REST answers alone for the rest (no live numbers). */
export const MAX_LIVE_DEPLOYMENTS = 100;
const FLUSH_MS = 250;

export interface Pulses {
  latest: ReadonlyMap<number, MetricsMessage>;
  states: SocketState[];
}

export function usePulses(ids: number[]): Pulses {
  const client = useQueryClient();
  const [latest, setLatest] = useState<ReadonlyMap<number, MetricsMessage>>(new Map());
  const [stateById, setStateById] = useState<ReadonlyMap<number, SocketState>>(new Map());
  const pending = useRef(new Map<number, MetricsMessage>());
  const key = ids.slice(0, MAX_LIVE_DEPLOYMENTS).join(",");

  useEffect(() => {
    const live = key ? key.split(",").map(Number) : [];
    const timer = window.setInterval(() => {
      if (pending.current.size === 0) return;
      const batch = pending.current;
      pending.current = new Map();
      setLatest((current) => new Map([...current, ...batch]));
    }, FLUSH_MS);
    const sockets = live.map((id) => {
      let hellos = 0;
      const socket = new LiveSocket({
        path: () => `/ws/deployments/${id}/`,
        onMessage: (message) => {
          if (message.type === "metrics") {
            pending.current.set(id, message.data as MetricsMessage);
          } else if (message.type === "rollout_event") {
            // A phase or the stable version changed: the REST answers (latest rollout, the list) catch up.
            const data = message.data as RolloutEventMessage;
            void client.invalidateQueries({ queryKey: keys.rollouts.latestOf(id) });
            if (data.rollout === null) void client.invalidateQueries({ queryKey: keys.deployments.list() });
          } else if (message.type === "hello" && hellos++ > 0) {
            void client.invalidateQueries({ queryKey: keys.rollouts.latestOf(id) });
          }
        },
        onState: (state) => setStateById((current) => new Map(current).set(id, state)),
        onRefused: (code) => {
          if (code === CLOSE_UNAUTHENTICATED) sessionEnded();
        },
      });
      socket.start();
      return socket;
    });
    return () => {
      window.clearInterval(timer);
      for (const socket of sockets) socket.stop();
    };
  }, [key, client]);

  const states = key ? key.split(",").map((id) => stateById.get(Number(id)) ?? "connecting") : [];
  return { latest, states };
}
