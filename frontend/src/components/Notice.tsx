import type { ReactNode } from "react";

export type NoticeKind = "error" | "success" | "info";

/** A message box: `role="alert"` for errors (announced at once), `role="status"` for the rest. */
export function Notice({ kind, children }: { kind: NoticeKind; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}
