import { describe, expect, it } from "vitest";

import { tokenState } from "./tokenState";

describe("tokenState", () => {
  it("names an active, a revoked and an expired token", () => {
    expect(tokenState({ revoked_at: null, is_active: true }).label).toBe("Active");
    expect(tokenState({ revoked_at: "2026-12-01T10:00:00Z", is_active: false }).label).toBe("Revoked");
    expect(tokenState({ revoked_at: null, is_active: false }).label).toBe("Expired");
  });
});
