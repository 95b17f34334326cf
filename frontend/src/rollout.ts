// The rollout parts of the live deployment page: the active rollout's card with the commands that steer it (for
// deployers and admins), and the list of rollout events, newest first.

import { api, type DeploymentEvent, type Rollout, type RolloutCommand } from "./api";
import { versionColour } from "./charts";
import { type Child, h, replace, showNotice } from "./dom";
import type { RolloutSummary } from "./metrics";

export const ACTIVE_PHASES = new Set(["pending", "progressing", "paused", "warm"]);
const EVENTS_KEPT = 200;

/** The buttons, in this order; each shows only when the rollout's `allowed_commands` (the engine's rule) lists it. */
const COMMANDS: { command: RolloutCommand; label: string }[] = [
  { command: "pause", label: "Pause" },
  { command: "resume", label: "Resume" },
  { command: "promote", label: "Promote" },
  { command: "abort", label: "Abort" },
];

/** The rollout as the card shows it: where it stands, and which commands its state allows. */
export interface RolloutView extends RolloutSummary {
  allowed_commands: RolloutCommand[];
}

const DONE: Record<RolloutCommand, string> = {
  pause: "paused",
  resume: "resumed",
  promote: "promoted",
  abort: "aborted",
};

/** The rollout as the page tracks it, or null once it is over. */
export function activeRollout(rollout: Rollout): RolloutView | null {
  if (!ACTIVE_PHASES.has(rollout.phase)) return null;
  const { id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands } = rollout;
  return { id, phase, from_version, to_version, candidate_weight, shadow_percent, allowed_commands };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class RolloutCard {
  /** The command's outcome; outside the card, which goes away when a command ends the rollout. */
  readonly notice = h("div", { class: "notice-slot" });
  readonly element = h("div");
  private rollout: RolloutView | null = null;
  private canCommand = false;
  private team = "";
  private busy = false;

  /** `changed` hears the rollout as a command left it. */
  constructor(private readonly changed: (rollout: RolloutView | null) => void) {}

  show(rollout: RolloutView | null, access: { canCommand: boolean; team: string }): void {
    this.rollout = rollout;
    this.canCommand = access.canCommand;
    this.team = access.team;
    this.render();
  }

  private render(): void {
    const rollout = this.rollout;
    if (rollout === null) {
      this.element.replaceChildren();
      return;
    }
    const stableWeight = 100 - rollout.candidate_weight;
    const from = rollout.from_version;
    const chip = (version: number) =>
      h("span", { class: "version-chip", style: `--chip: ${versionColour(version)}` }, `v${version}`);
    replace(
      this.element,
      h(
        "section",
        { class: "card rollout-card", "aria-labelledby": "rollout-title", "data-phase": rollout.phase },
        h(
          "div",
          { class: "card-header" },
          h(
            "h2",
            { id: "rollout-title" },
            `Rollout #${rollout.id}: `,
            from === null ? null : [chip(from), h("span", { "aria-label": "to" }, " → ")],
            chip(rollout.to_version),
          ),
          h("span", { class: `badge phase phase-${rollout.phase}` }, rollout.phase),
        ),
        h(
          "div",
          { class: "weights" },
          h(
            "div",
            {
              class: "weight-bar",
              role: "img",
              "aria-label": `Candidate v${rollout.to_version} ${rollout.candidate_weight} %, stable ${stableWeight} %`,
            },
            from === null ? null : h("span", { style: `width: ${stableWeight}%; background: ${versionColour(from)}` }),
            h("span", {
              style: `width: ${rollout.candidate_weight}%; background: ${versionColour(rollout.to_version)}`,
            }),
          ),
          h(
            "p",
            { class: "weight-text" },
            "candidate ",
            h("strong", { "data-candidate-weight": rollout.candidate_weight }, `${rollout.candidate_weight} %`),
            from === null ? null : ` · stable v${from} ${stableWeight} %`,
            rollout.shadow_percent ? ` · ${rollout.shadow_percent} % mirrored to the candidate` : null,
          ),
        ),
        this.commands(rollout),
      ),
    );
  }

  private commands(rollout: RolloutView): Child {
    if (!this.canCommand) {
      return h(
        "p",
        { class: "hint" },
        `Pausing, resuming, promoting and aborting need the deployer role in team ${this.team}.`,
      );
    }
    const allowed = COMMANDS.filter(({ command }) => rollout.allowed_commands.includes(command));
    if (allowed.length === 0) {
      return h("p", { class: "hint" }, `No command applies while the rollout is ${rollout.phase}.`);
    }
    return h(
      "div",
      { class: "actions", role: "group", "aria-label": "Rollout commands" },
      allowed.map(({ command, label }) => {
        const button = h(
          "button",
          {
            type: "button",
            class: `button button-small${command === "abort" ? " button-danger" : ""}`,
            disabled: this.busy,
          },
          label,
        );
        button.addEventListener("click", () => void this.command(rollout, command));
        return button;
      }),
    );
  }

  private async command(rollout: RolloutView, command: RolloutCommand): Promise<void> {
    if (command === "abort") {
      const back = rollout.from_version === null ? "" : ` All traffic goes back to v${rollout.from_version}.`;
      if (!window.confirm(`Abort rollout #${rollout.id}?${back}`)) return;
    }
    this.busy = true;
    showNotice(this.notice, "error", null);
    this.render();
    try {
      const updated = await api.rolloutCommand(rollout.id, command);
      this.rollout = activeRollout(updated);
      this.changed(this.rollout);
      showNotice(this.notice, "success", `Rollout #${updated.id} ${DONE[command]}: it is now ${updated.phase}.`);
    } catch (error) {
      showNotice(this.notice, "error", message(error));
    } finally {
      this.busy = false;
      this.render();
    }
  }
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function eventTime(iso: string): HTMLTimeElement {
  const at = new Date(iso);
  const today = at.toDateString() === new Date().toDateString();
  return h("time", { datetime: iso, title: dayAndTime.format(at) }, (today ? timeOfDay : dayAndTime).format(at));
}

function eventTone(kind: string): string {
  if (/fail|abort|rollback|rolled_back|refused|error/.test(kind)) return "bad";
  if (/succeed|promot|ready|switch|deployed/.test(kind)) return "ok";
  if (/pause|inconclusive/.test(kind)) return "warn";
  return "idle";
}

export class EventList {
  readonly element: HTMLElement;
  private readonly list = h("ol", { class: "events", "aria-label": "Rollout events, newest first" });
  private events: DeploymentEvent[] = [];

  constructor() {
    this.element = h(
      "section",
      { class: "card events-card", "aria-labelledby": "events-title" },
      h("h2", { id: "events-title" }, "Rollout events"),
      this.list,
    );
    this.render();
  }

  /** The history from REST, oldest first, replaces the list. */
  load(events: DeploymentEvent[]): void {
    this.events = events.slice(-EVENTS_KEPT).reverse();
    this.render();
  }

  prepend(event: DeploymentEvent): void {
    this.events.unshift(event);
    if (this.events.length > EVENTS_KEPT) this.events.length = EVENTS_KEPT;
    this.render();
  }

  private render(): void {
    if (this.events.length === 0) {
      replace(this.list, h("li", { class: "events-empty muted" }, "No rollout events yet."));
      return;
    }
    replace(
      this.list,
      this.events.map((event) =>
        h(
          "li",
          { class: "event", "data-kind": event.kind },
          eventTime(event.at),
          h("span", { class: `badge tone-${eventTone(event.kind)}` }, event.kind),
          h("span", { class: "event-message" }, event.message),
          h(
            "span",
            { class: "event-meta muted small" },
            event.rollout === null ? "" : `rollout #${event.rollout}`,
            event.actor_username ? ` · by ${event.actor_username}` : "",
          ),
        ),
      ),
    );
  }
}
