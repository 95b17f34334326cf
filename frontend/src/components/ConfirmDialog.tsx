// A confirmation before a command that cannot be taken back (abort a rollout, later undeploy and rollback): a
// modal <dialog> that says what will happen, focuses the safe choice, and answers with a promise.

import { type ReactNode, createContext, useCallback, useContext, useEffect, useRef, useState } from "react";

export interface ConfirmRequest {
  title: string;
  /** What will happen, in a sentence or two. */
  body: ReactNode;
  confirmLabel: string;
  cancelLabel?: string;
  danger?: boolean;
}

type Confirm = (request: ConfirmRequest) => Promise<boolean>;

const ConfirmContext = createContext<Confirm>(async () => false);

/** `if (await confirm({ title, body, confirmLabel: "Abort rollout", danger: true })) …` */
export function useConfirm(): Confirm {
  return useContext(ConfirmContext);
}

interface Pending extends ConfirmRequest {
  answer: (confirmed: boolean) => void;
}

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [pending, setPending] = useState<Pending | null>(null);
  const confirm = useCallback<Confirm>(
    (request) =>
      new Promise<boolean>((resolve) => {
        setPending((previous) => {
          previous?.answer(false);
          return { ...request, answer: resolve };
        });
      }),
    [],
  );
  const close = (confirmed: boolean) => {
    pending?.answer(confirmed);
    setPending(null);
  };
  return (
    <ConfirmContext.Provider value={confirm}>
      {children}
      {pending ? <ConfirmDialog request={pending} onClose={close} /> : null}
    </ConfirmContext.Provider>
  );
}

function ConfirmDialog({ request, onClose }: { request: ConfirmRequest; onClose: (confirmed: boolean) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(document.activeElement);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    const returnTo = opener.current;
    return () => {
      if (returnTo instanceof HTMLElement && returnTo.isConnected) returnTo.focus();
    };
  }, []);
  return (
    <dialog
      ref={dialog}
      className="dialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onCancel={(event) => {
        event.preventDefault(); // Escape: answer "no" through React, not by closing the element behind its back
        onClose(false);
      }}
    >
      <h2 id="confirm-title">{request.title}</h2>
      <div id="confirm-body" className="dialog-body">
        {request.body}
      </div>
      <div className="actions">
        <button
          type="button"
          className={`button ${request.danger ? "button-danger-solid" : "button-primary"}`}
          onClick={() => onClose(true)}
        >
          {request.confirmLabel}
        </button>
        <button type="button" className="button" autoFocus onClick={() => onClose(false)}>
          {request.cancelLabel ?? "Cancel"}
        </button>
      </div>
    </dialog>
  );
}
