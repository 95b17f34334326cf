import { errorMessage } from "../../api/client";
import { useRolloutCommand } from "../../api/queries";
import type { Rollout, RolloutCommand } from "../../api/types";
import { PhaseBadge, VersionChip } from "../../components/Badges";
import { useConfirm } from "../../components/ConfirmDialog";
import { useToast } from "../../components/Toasts";
import { versionColour } from "../../lib/colours";
import { type RolloutView, commandControls, commandDone } from "./rollout";

/** The active rollout: versions, weights, and the commands its state allows (for deployers and admins). */
export function RolloutCard({
  rollout,
  deployment,
  canCommand,
  team,
  onChanged,
}: {
  rollout: RolloutView;
  deployment: number;
  canCommand: boolean;
  team: string;
  onChanged: (rollout: Rollout) => void;
}) {
  const command = useRolloutCommand();
  const toast = useToast();
  const confirm = useConfirm();
  const stableWeight = 100 - rollout.candidate_weight;
  const from = rollout.from_version;
  const controls = commandControls(rollout, { canCommand, team });

  const send = async (name: RolloutCommand) => {
    if (name === "abort") {
      const confirmed = await confirm({
        title: `Abort rollout #${rollout.id}?`,
        body: (
          <p>
            {from === null
              ? `Version ${rollout.to_version} stops taking traffic.`
              : `All traffic goes back to v${from}; v${rollout.to_version} stops taking traffic.`}{" "}
            The rollout ends as aborted and cannot be resumed.
          </p>
        ),
        confirmLabel: "Abort rollout",
        cancelLabel: "Keep it going",
        danger: true,
      });
      if (!confirmed) return;
    }
    // mutateAsync, not mutate's callbacks: an abort can end the rollout (and remove this card) over the websocket
    // before the answer arrives, and the toast must still say how it went.
    try {
      const updated = await command.mutateAsync({ rollout: rollout.id, deployment, command: name });
      toast({
        kind: "success",
        key: `rollout-${rollout.id}`,
        message: `Rollout #${updated.id} ${commandDone(name)}: it is now ${updated.phase}.`,
      });
      onChanged(updated);
    } catch (error) {
      toast({ kind: "error", key: `rollout-${rollout.id}`, message: errorMessage(error) });
    }
  };

  return (
    <section className="card rollout-card" aria-labelledby="rollout-title" data-phase={rollout.phase}>
      <div className="card-header">
        <h2 id="rollout-title">
          {`Rollout #${rollout.id}: `}
          {from === null ? null : (
            <>
              <VersionChip version={from} />
              <span aria-label="to"> → </span>
            </>
          )}
          <VersionChip version={rollout.to_version} />
        </h2>
        <PhaseBadge phase={rollout.phase} />
      </div>
      <div className="weights">
        <div
          className="weight-bar"
          role="img"
          aria-label={`Candidate v${rollout.to_version} ${rollout.candidate_weight} %, stable ${stableWeight} %`}
        >
          {from === null ? null : <span style={{ width: `${stableWeight}%`, background: versionColour(from) }} />}
          <span style={{ width: `${rollout.candidate_weight}%`, background: versionColour(rollout.to_version) }} />
        </div>
        <p className="weight-text">
          {"candidate "}
          <strong data-candidate-weight={rollout.candidate_weight}>{`${rollout.candidate_weight} %`}</strong>
          {from === null ? null : ` · stable v${from} ${stableWeight} %`}
          {rollout.shadow_percent ? ` · ${rollout.shadow_percent} % mirrored to the candidate` : null}
        </p>
      </div>
      {controls.kind === "reason" ? (
        <p className="hint">{controls.text}</p>
      ) : (
        <div className="actions" role="group" aria-label="Rollout commands">
          {controls.commands.map(({ command: name, label }) => (
            <button
              key={name}
              type="button"
              className={`button button-small${name === "abort" ? " button-danger" : ""}`}
              disabled={command.isPending}
              onClick={() => void send(name)}
            >
              {label}
            </button>
          ))}
        </div>
      )}
    </section>
  );
}
