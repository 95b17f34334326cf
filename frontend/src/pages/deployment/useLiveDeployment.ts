// The live page's controller for the lifetime of the page: REST loads through the query cache (so the overview and
// the model page share what it learns), the deployment's websocket feeding it, and access questions answered.

import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useSyncExternalStore } from "react";

import { ApiError, sessionEnded } from "../../api/client";
import { api } from "../../api/endpoints";
import { keys } from "../../api/keys";
import { CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, type SocketState } from "../../live/socket";
import { useLiveSocket } from "../../live/useLiveSocket";
import { EVENTS_KEPT, type LiveSnapshot, LiveDeployment, type LoadedHistory } from "./liveDeployment";
import { HISTORY_STEP_S, WINDOW_S } from "./series";

const ACCESS_CHECK_EVERY_MS = 3000;

async function loadHistory(client: QueryClient, id: number): Promise<LoadedHistory> {
  const [deployment, history, events, rollout] = await Promise.all([
    client.fetchQuery({ queryKey: keys.deployments.detail(id), queryFn: () => api.deployment(id), staleTime: 0 }),
    api.metrics(id, WINDOW_S, HISTORY_STEP_S),
    api.events(id, EVENTS_KEPT),
    client.fetchQuery({ queryKey: keys.rollouts.latestOf(id), queryFn: () => api.latestRollout(id), staleTime: 0 }),
  ]);
  return { deployment, history, events, rollout };
}

export interface LiveDeploymentHandle {
  live: LiveDeployment;
  snapshot: LiveSnapshot;
  socketState: SocketState;
  /** Ask the REST API why a socket was refused before it opened (browsers do not say); throttled. */
  checkAccess: () => void;
}

export function useLiveDeployment(id: number): LiveDeploymentHandle {
  const client = useQueryClient();
  const live = useMemo(() => new LiveDeployment(id, { load: () => loadHistory(client, id) }), [client, id]);
  const snapshot = useSyncExternalStore(live.subscribe, live.getSnapshot);
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);

  const lastCheck = useRef(0);
  const checkAccess = () => {
    const now = Date.now();
    if (now - lastCheck.current < ACCESS_CHECK_EVERY_MS) return;
    lastCheck.current = now;
    api.deployment(id).catch((error: unknown) => {
      // A 401 shows the login form by itself (the client reports the ended session); a network failure leaves
      // the sockets retrying.
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) live.deny();
    });
  };

  const { state } = useLiveSocket(snapshot.denied ? null : `/ws/deployments/${id}/`, {
    onMessage: (message) => live.receive(message),
    onRefused: (code) => {
      if (code === CLOSE_UNAUTHENTICATED) sessionEnded();
      else if (code === CLOSE_FORBIDDEN) live.deny();
    },
    onHandshakeFailed: checkAccess,
  });
  return { live, snapshot, socketState: snapshot.resyncing ? "reconnecting" : state, checkAccess };
}
