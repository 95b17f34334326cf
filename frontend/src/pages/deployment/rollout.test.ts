import { describe, expect, it } from "vitest";

import type { Rollout } from "../../api/types";
import { type RolloutView, activeRollout, commandControls, versionRole, versionTraffic } from "./rollout";

function view(fields: Partial<RolloutView> = {}): RolloutView {
  return {
    id: 4,
    phase: "paused",
    from_version: 1,
    to_version: 2,
    candidate_weight: 10,
    shadow_percent: 0,
    allowed_commands: [],
    ...fields,
  };
}

const DEPLOYER = { canCommand: true, team: "ml" };

describe("commandControls: exactly the API's allowed_commands", () => {
  it("shows a button per allowed command, in a fixed order whatever order the API sends", () => {
    const controls = commandControls(view({ allowed_commands: ["abort", "promote", "resume"] }), DEPLOYER);
    expect(controls).toEqual({
      kind: "buttons",
      commands: [
        { command: "resume", label: "Resume" },
        { command: "promote", label: "Promote" },
        { command: "abort", label: "Abort" },
      ],
    });
  });

  it("never adds a command the API did not list, whatever the phase", () => {
    // A paused rollout would usually allow resume; the API says only abort now, so only abort shows.
    const controls = commandControls(view({ phase: "paused", allowed_commands: ["abort"] }), DEPLOYER);
    expect(controls).toEqual({ kind: "buttons", commands: [{ command: "abort", label: "Abort" }] });
  });

  it("says why there is no button when nothing is allowed", () => {
    expect(commandControls(view({ phase: "warm", allowed_commands: [] }), DEPLOYER)).toEqual({
      kind: "reason",
      text: "No command applies while the rollout is warm.",
    });
  });

  it("hides every command from a viewer, with the role they would need", () => {
    const controls = commandControls(view({ allowed_commands: ["pause", "abort"] }), { canCommand: false, team: "ml" });
    expect(controls).toEqual({
      kind: "reason",
      text: "Pausing, resuming, promoting and aborting need the deployer role in team ml.",
    });
  });
});

describe("a version's role and traffic", () => {
  it("splits traffic between stable and candidate, with the shadow share", () => {
    const rollout = view({ candidate_weight: 25, shadow_percent: 5 });
    expect(versionTraffic(1, 1, rollout)).toBe("75 %");
    expect(versionTraffic(2, 1, rollout)).toBe("25 % + 5 % shadow");
    expect(versionTraffic(3, 1, rollout)).toBe("0 %");
    expect(versionRole(2, 1, rollout)).toBe("candidate");
  });

  it("after a blue/green switch the new version is stable and the old one kept warm", () => {
    const rollout = view({ phase: "warm", candidate_weight: 100 });
    expect(versionRole(2, 1, rollout)).toBe("stable");
    expect(versionRole(1, 1, rollout)).toBe("kept warm");
  });

  it("without a rollout the stable version takes everything", () => {
    expect(versionTraffic(1, 1, null)).toBe("100 %");
    expect(versionRole(1, 1, null)).toBe("stable");
    expect(versionRole(2, 1, null)).toBe("");
  });
});

describe("activeRollout", () => {
  it("tracks a rollout only while it is active", () => {
    const rollout = { id: 9, phase: "progressing", from_version: 1, to_version: 2 } as Rollout;
    expect(activeRollout({ ...rollout, candidate_weight: 10, shadow_percent: 0, allowed_commands: ["pause"] })).toEqual(
      { id: 9, phase: "progressing", from_version: 1, to_version: 2, candidate_weight: 10, shadow_percent: 0, allowed_commands: ["pause"] },
    );
    expect(activeRollout({ ...rollout, phase: "succeeded" })).toBeNull();
    expect(activeRollout(null)).toBeNull();
  });
});
