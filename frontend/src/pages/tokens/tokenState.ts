import type { ApiToken } from "../../api/types";

export interface TokenState {
  label: "Active" | "Revoked" | "Expired";
  /** The badge's tone class (style.css). */
  tone: "tone-ok" | "tone-bad" | "tone-warn";
}

/** Revoked wins over expired: a revoked token says so even after its expiry date has passed. */
export function tokenState(token: Pick<ApiToken, "revoked_at" | "is_active">): TokenState {
  if (token.revoked_at) return { label: "Revoked", tone: "tone-bad" };
  if (!token.is_active) return { label: "Expired", tone: "tone-warn" };
  return { label: "Active", tone: "tone-ok" };
}
