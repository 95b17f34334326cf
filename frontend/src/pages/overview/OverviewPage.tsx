// The landing page: every deployment the user can see, what serves it, how its rollout stands and its live
// numbers, filtered by team and state; the ones with a problem come first and stand out.

import { useQueries } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";

import { errorMessage } from "../../api/client";
import { api } from "../../api/endpoints";
import { keys } from "../../api/keys";
import { useDeployments } from "../../api/queries";
import { paths } from "../../app/paths";
import { PhaseBadge, TeamBadge, VersionChip } from "../../components/Badges";
import { ConnectionIndicator, combinedState } from "../../components/ConnectionIndicator";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { type Column, Table } from "../../components/Table";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useOnline } from "../../live/useOnline";
import { milliseconds, number, percent, plural } from "../../lib/format";
import { type OverviewRow, STATE_FILTERS, byAttention, matchesState, overviewRow } from "./overview";
import { usePulses } from "./usePulses";

const COLUMNS: Column<OverviewRow>[] = [
  {
    header: "Model",
    cell: (row) => (
      <>
        <Link to={paths.deployment(row.id)} className="strong" aria-label={`${row.model}, live view`}>
          {row.model}
        </Link>
        <div className="small">
          <TeamBadge team={row.team} />{" "}
          <Link to={paths.model(row.model)} className="muted">
            versions
          </Link>
        </div>
      </>
    ),
  },
  {
    header: "Stable",
    cell: (row) =>
      row.stable ? (
        <span className="served">
          <VersionChip version={row.stable.version} /> <span className="weight">{row.stable.weight} %</span>
        </span>
      ) : (
        <span className="muted">none</span>
      ),
    cellProps: () => ({ "data-column": "stable" }),
  },
  {
    header: "Canary",
    cell: (row) =>
      row.canary ? (
        <span className="served">
          <VersionChip version={row.canary.version} /> <span className="weight">{row.canary.weight} %</span>
          {row.canary.shadowPercent ? <span className="muted small"> +{row.canary.shadowPercent} % shadow</span> : null}
        </span>
      ) : (
        <span className="muted">—</span>
      ),
    cellProps: () => ({ "data-column": "canary" }),
  },
  {
    header: "Rollout",
    cell: (row) =>
      row.state === "steady" ? (
        <span className="muted">steady</span>
      ) : (
        <>
          <PhaseBadge phase={row.state} /> <span className="muted small">#{row.rolloutId}</span>
        </>
      ),
    cellProps: () => ({ "data-column": "state" }),
  },
  {
    header: "Req/s",
    numeric: true,
    cell: (row) => (row.rate === null ? "—" : number(row.rate)),
    cellProps: () => ({ "data-metric": "rate" }),
  },
  {
    header: "p99",
    numeric: true,
    cell: (row) => (row.rate === null ? "—" : milliseconds(row.p99)),
    cellProps: () => ({ "data-metric": "p99", title: "The slowest version's p99 over the last seconds" }),
  },
  {
    header: "Errors",
    numeric: true,
    cell: (row) => (row.errorRate === null ? "—" : percent(row.errorRate)),
    cellProps: (row) => ({
      "data-metric": "error-rate",
      className: `num${row.errorRate ? " bad" : ""}`,
      title: "Answered 5xx, over every version's requests",
    }),
  },
  {
    header: "Replicas",
    numeric: true,
    cell: (row) => (row.replicas === null ? "—" : `${row.replicas.running}/${row.replicas.total} running`),
    cellProps: () => ({ "data-metric": "replicas" }),
  },
  {
    header: "Health",
    cell: (row) =>
      row.problems.length === 0 ? (
        row.rate === null ? (
          <span className="muted small" title="The monitor has not sent a sample yet">
            waiting for numbers
          </span>
        ) : (
          <span className="badge tone-ok">healthy</span>
        )
      ) : (
        <ul className="problems">
          {row.problems.map((problem, index) => (
            <li key={index} data-problem={problem.kind}>
              {problem.text}
            </li>
          ))}
        </ul>
      ),
  },
];

export function OverviewPage() {
  useDocumentTitle("Overview");
  const [params, setParams] = useSearchParams();
  const team = params.get("team") ?? "";
  const state = params.get("state") ?? "";
  const deployments = useDeployments();
  const all = deployments.data?.results ?? [];
  const teams = [...new Set(all.map((deployment) => deployment.team))].sort();
  const inTeam = all.filter((deployment) => !team || deployment.team === team);
  const latestRollouts = useQueries({
    queries: inTeam.map((deployment) => ({
      queryKey: keys.rollouts.latestOf(deployment.id),
      queryFn: () => api.latestRollout(deployment.id),
      staleTime: 10_000,
    })),
  });
  const pulses = usePulses(inTeam.map((deployment) => deployment.id));
  const online = useOnline();

  const everyRow = inTeam.map((deployment, index) =>
    overviewRow(deployment, latestRollouts[index]?.data, pulses.latest.get(deployment.id)),
  );
  const rows = everyRow.filter((row) => matchesState(row, state)).sort(byAttention);
  const troubled = everyRow.filter((row) => row.problems.length > 0).length;

  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };

  let body;
  if (deployments.isError) body = <Notice kind="error">{errorMessage(deployments.error)}</Notice>;
  else if (!deployments.data) body = <p className="muted">Loading deployments…</p>;
  else if (all.length === 0) {
    body = (
      <div className="empty">
        No deployments yet. Open a model in <Link to={paths.models()}>Models</Link>, upload a version and deploy it.
      </div>
    );
  } else if (rows.length === 0) {
    body = <div className="empty">No deployment matches these filters.</div>;
  } else {
    body = (
      <Table
        caption="Deployments, those that need attention first"
        className="overview-table"
        columns={COLUMNS}
        rows={rows}
        rowKey={(row) => row.id}
        rowProps={(row) => ({
          "data-deployment": row.id,
          "data-model": row.model,
          className: row.problems.length ? "row-problem" : undefined,
        })}
      />
    );
  }

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Overview</h1>
          {deployments.data ? (
            <span className="count">
              {plural(all.length, "deployment")}
              {troubled ? <strong className="attention">{` · ${troubled} need${troubled === 1 ? "s" : ""} attention`}</strong> : null}
            </span>
          ) : null}
        </div>
        {inTeam.length > 0 ? <ConnectionIndicator state={combinedState(pulses.states, online)} /> : null}
      </div>
      <form className="toolbar filters" aria-label="Filter deployments" onSubmit={(event) => event.preventDefault()}>
        <Field label="Team" className="field-inline">
          {(props) => (
            <select {...props} name="team" value={team} onChange={(event) => setFilter("team", event.target.value)}>
              <option value="">All teams</option>
              {teams.map((slug) => (
                <option key={slug} value={slug}>
                  {slug}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="State" className="field-inline">
          {(props) => (
            <select {...props} name="state" value={state} onChange={(event) => setFilter("state", event.target.value)}>
              {STATE_FILTERS.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </select>
          )}
        </Field>
      </form>
      <div className="table-slot">{body}</div>
    </div>
  );
}
