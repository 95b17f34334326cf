// What the live page says about a rollout: its state as the page tracks it, the command buttons, and each
// version's role and share of traffic. The commands come from the API's `allowed_commands` (the engine's rule):
// nothing here decides what a phase allows.

import type { RolloutState } from "../../api/live";
import type { Rollout, RolloutCommand } from "../../api/types";

export const ACTIVE_PHASES: ReadonlySet<string> = new Set(["pending", "progressing", "paused", "warm"]);

/** The rollout as the page shows it: where it stands, and which commands its state allows. */
export interface RolloutView {
  id: number;
  phase: string;
  from_version: number | null;
  to_version: number;
  candidate_weight: number;
  shadow_percent: number;
  allowed_commands: RolloutCommand[];
}

/** The buttons, in this order; each shows only when the rollout's `allowed_commands` lists it. */
export const COMMANDS: readonly { command: RolloutCommand; label: string; done: string }[] = [
  { command: "pause", label: "Pause", done: "paused" },
  { command: "resume", label: "Resume", done: "resumed" },
  { command: "promote", label: "Promote", done: "promoted" },
  { command: "abort", label: "Abort", done: "aborted" },
];

/** A rollout from REST as the page tracks it; null once it is over. */
export function activeRollout(rollout: Rollout | null | undefined): RolloutView | null {
  if (!rollout || !ACTIVE_PHASES.has(rollout.phase)) return null;
  const { id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands } = rollout;
  return { id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands };
}

/** A rollout from a push (an event, or the metrics' `rollout`) as the page tracks it; null once it is over. */
export function activeSummary(state: RolloutState | null | undefined): RolloutView | null {
  if (!state || !ACTIVE_PHASES.has(state.phase)) return null;
  const { rollout: id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands } = state;
  return { id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands };
}

export type CommandControls =
  | { kind: "reason"; text: string }
  | { kind: "buttons"; commands: { command: RolloutCommand; label: string }[] };

/**
 * The controls a rollout card shows: the buttons of exactly the commands the API allows, in a fixed order; or,
 * instead of buttons, why there are none (a viewer's role, or a phase that allows nothing).
 */
export function commandControls(rollout: RolloutView, access: { canCommand: boolean; team: string }): CommandControls {
  if (!access.canCommand) {
    return {
      kind: "reason",
      text: `Pausing, resuming, promoting and aborting need the deployer role in team ${access.team}.`,
    };
  }
  const allowed = COMMANDS.filter(({ command }) => rollout.allowed_commands.includes(command));
  if (allowed.length === 0) return { kind: "reason", text: `No command applies while the rollout is ${rollout.phase}.` };
  return { kind: "buttons", commands: allowed.map(({ command, label }) => ({ command, label })) };
}

export function commandDone(command: RolloutCommand): string {
  return COMMANDS.find((entry) => entry.command === command)?.done ?? command;
}

/** "stable", "candidate", "kept warm" (blue/green's old version after the switch), or "". */
export function versionRole(version: number, stable: number | null, rollout: RolloutView | null): string {
  if (rollout && version === rollout.to_version) return rollout.phase === "warm" ? "stable" : "candidate";
  if (rollout && version === rollout.from_version) return rollout.phase === "warm" ? "kept warm" : "stable";
  return version === stable ? "stable" : "";
}

/** The version's share of requests: "90 %", "10 % + 5 % shadow", "0 %". */
export function versionTraffic(version: number, stable: number | null, rollout: RolloutView | null): string {
  if (rollout) {
    if (version === rollout.to_version) {
      const shadow = rollout.shadow_percent ? ` + ${rollout.shadow_percent} % shadow` : "";
      return `${rollout.candidate_weight} %${shadow}`;
    }
    if (version === rollout.from_version) return `${100 - rollout.candidate_weight} %`;
    return "0 %";
  }
  return version === stable ? "100 %" : "0 %";
}
