import { errorMessage } from "../../api/client";
import { useDeploy } from "../../api/queries";
import type { ModelVersion } from "../../api/types";
import { StatusBadge } from "../../components/Badges";
import { type Column, Table } from "../../components/Table";
import { DateTime } from "../../components/Time";
import { useToast } from "../../components/Toasts";
import { humanSize, shortSha } from "../../lib/format";

export function VersionsTable({
  model,
  versions,
  serving,
  writable,
}: {
  model: string;
  versions: ModelVersion[];
  serving: number | null;
  writable: boolean;
}) {
  const deploy = useDeploy(model);
  const toast = useToast();
  if (versions.length === 0) {
    return <div className="empty">No versions yet. Upload a model file to create version 1.</div>;
  }

  const send = (version: number) =>
    deploy.mutate(version, {
      onSuccess: () =>
        toast({
          kind: "success",
          key: `deploy-${model}`,
          message: `Version ${version} is deployed; Ray Serve picks it up in a moment.`,
        }),
      onError: (error) => toast({ kind: "error", key: `deploy-${model}`, message: errorMessage(error) }),
    });

  const columns: Column<ModelVersion>[] = [
    { header: "Version", numeric: true, cell: (version) => `v${version.version}` },
    { header: "Format", cell: (version) => version.format },
    {
      header: "Framework",
      cell: (version) =>
        [version.framework, version.framework_version].filter(Boolean).join(" ") || <span className="muted">—</span>,
    },
    {
      header: "Status",
      cell: (version) => <StatusBadge status={version.validation_status} error={version.validation_error} />,
    },
    { header: "Trusted", cell: (version) => (version.trusted ? "yes" : <span className="muted">no</span>) },
    {
      header: "SHA-256",
      cell: (version) => (
        <code className="sha" title={version.sha256}>
          {shortSha(version.sha256)}
        </code>
      ),
    },
    {
      header: "Size",
      numeric: true,
      cell: (version) => humanSize(version.size),
      cellProps: (version) => ({ title: `${version.size.toLocaleString()} bytes` }),
    },
    { header: "Created", cell: (version) => <DateTime iso={version.created_at} /> },
    {
      header: "",
      className: "actions-cell",
      cell: (version) => {
        if (serving === version.version) return <span className="badge badge-live">serving</span>;
        if (!writable || !version.deployable) return null;
        const deploying = deploy.isPending && deploy.variables === version.version;
        return (
          <button
            type="button"
            className="button button-small"
            aria-label={`Deploy version ${version.version}`}
            disabled={deploy.isPending}
            onClick={() => send(version.version)}
          >
            {deploying ? "Deploying…" : "Deploy"}
          </button>
        );
      },
    },
  ];
  return (
    <div className="table-slot">
      <Table
        caption={`Versions of ${model}`}
        columns={columns}
        rows={versions}
        rowKey={(version) => version.version}
        rowProps={(version) => ({ "data-version": version.version })}
      />
    </div>
  );
}
