// A LiveSocket for the lifetime of a component: opened on mount (and when its path changes), closed on unmount.
// The handlers may change on every render; the socket always calls the latest ones.

import { useEffect, useRef, useState } from "react";

import { LiveSocket, type ServerMessage, type SocketState } from "./socket";

export interface LiveSocketHandlers {
  onMessage: (message: ServerMessage) => void;
  onRefused?: (code: number) => void;
  onHandshakeFailed?: () => void;
}

export function useLiveSocket(
  path: string | null,
  handlers: LiveSocketHandlers,
): { state: SocketState; socket: LiveSocket | null } {
  const latest = useRef(handlers);
  latest.current = handlers;
  const [state, setState] = useState<SocketState>("connecting");
  const [socket, setSocket] = useState<LiveSocket | null>(null);
  useEffect(() => {
    if (path === null) return;
    const live = new LiveSocket({
      path: () => path,
      onMessage: (message) => latest.current.onMessage(message),
      onState: setState,
      onRefused: (code) => latest.current.onRefused?.(code),
      onHandshakeFailed: () => latest.current.onHandshakeFailed?.(),
    });
    setState("connecting");
    setSocket(live);
    live.start();
    return () => live.stop();
  }, [path]);
  return { state, socket };
}
