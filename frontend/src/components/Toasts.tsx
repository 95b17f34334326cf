// Toasts: the outcome of a command (deployed, paused, refused) in the corner of the screen, wherever the reader is.
// A toast with a `key` replaces the previous one with that key, so repeated commands do not pile up; successes go
// by themselves, errors stay until dismissed or replaced.

import { type ReactNode, createContext, useCallback, useContext, useMemo, useRef, useState } from "react";

import type { NoticeKind } from "./Notice";

export interface ToastRequest {
  kind: NoticeKind;
  message: string;
  /** Toasts about the same thing share a key: the newest replaces the one before. */
  key?: string;
}

interface Toast extends ToastRequest {
  id: number;
}

const SUCCESS_SHOWN_MS = 6000;

const ToastContext = createContext<(toast: ToastRequest) => void>(() => undefined);

/** `const toast = useToast(); toast({ kind: "success", message: "Deployed." })`. */
export function useToast(): (toast: ToastRequest) => void {
  return useContext(ToastContext);
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);
  const timers = useRef(new Map<number, number>());

  const dismiss = useCallback((id: number) => {
    window.clearTimeout(timers.current.get(id));
    timers.current.delete(id);
    setToasts((current) => current.filter((toast) => toast.id !== id));
  }, []);

  const show = useCallback(
    (request: ToastRequest) => {
      const toast = { ...request, id: nextId.current++ };
      setToasts((current) => [
        ...current.filter((other) => request.key === undefined || other.key !== request.key),
        toast,
      ]);
      if (request.kind !== "error") {
        timers.current.set(
          toast.id,
          window.setTimeout(() => dismiss(toast.id), SUCCESS_SHOWN_MS),
        );
      }
    },
    [dismiss],
  );

  const value = useMemo(() => show, [show]);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <section className="toasts" aria-label="Notifications">
        {toasts.map((toast) => (
          <div key={toast.id} className={`toast toast-${toast.kind}`}>
            <p className="toast-message" role={toast.kind === "error" ? "alert" : "status"}>
              {toast.message}
            </p>
            {/* No text inside: the × is drawn by CSS, so the toast's text is exactly its message. */}
            <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => dismiss(toast.id)} />
          </div>
        ))}
      </section>
    </ToastContext.Provider>
  );
}
