import type { ValidationStatus } from "../api/types";
import { versionColour } from "../lib/colours";
import { STATUS_EXPLANATIONS, STATUS_LABELS } from "../lib/format";

export function StatusBadge({ status, error }: { status: ValidationStatus; error: string }) {
  const title = error ? `${STATUS_EXPLANATIONS[status]} ${error}` : STATUS_EXPLANATIONS[status];
  return (
    <span className={`badge badge-${status.replace("_", "-")}`} title={title}>
      {STATUS_LABELS[status] ?? status}
    </span>
  );
}

export function VersionChip({ version }: { version: number }) {
  return (
    <span className="version-chip" style={{ "--chip": versionColour(version) } as React.CSSProperties}>
      v{version}
    </span>
  );
}

export function Swatch({ version }: { version: number }) {
  return <span className="swatch" style={{ background: versionColour(version) }} aria-hidden="true" />;
}

export function TeamBadge({ team }: { team: string }) {
  return (
    <span className="team" title="Team">
      {team}
    </span>
  );
}

export function TagList({ tags, model }: { tags: string[]; model: string }) {
  if (tags.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="tags" aria-label={`Tags of ${model}`}>
      {tags.map((tag) => (
        <li key={tag} className="tag">
          {tag}
        </li>
      ))}
    </ul>
  );
}

export function PhaseBadge({ phase }: { phase: string }) {
  return <span className={`badge phase phase-${phase}`}>{phase}</span>;
}
