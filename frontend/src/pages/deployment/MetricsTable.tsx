import type { LivePoint } from "../../api/live";
import { Swatch } from "../../components/Badges";
import { type Column, Table } from "../../components/Table";
import { useNow } from "../../live/useNow";
import { milliseconds, number, percent, plural, timeOfDay } from "../../lib/format";
import type { LiveSnapshot } from "./liveDeployment";
import { versionRole, versionTraffic } from "./rollout";

/** A sample older than this and the table says the numbers are stale. */
const STALE_AFTER_MS = 5000;

function rateTitle(point: LivePoint): string {
  const window = point.window_s ?? 1;
  const over = window === 1 ? "the last second" : `the last ${window} seconds`;
  return `${plural(point.requests, "request")} in the last second; the rate is over ${over}`;
}

function replicaStates(states: Record<string, number>): string {
  const parts = Object.entries(states).map(([state, count]) => `${count} ${state.toLowerCase()}`);
  return parts.length ? `Model server replicas: ${parts.join(", ")}` : "No model server replica reported";
}

function Freshness({ snapshot }: { snapshot: LiveSnapshot }) {
  const now = useNow(1000);
  // Not a live region: it changes every second, which a screen reader would read out every second.
  if (snapshot.latest === null) return <span className="small muted">Waiting for the first sample…</span>;
  const age = now - snapshot.receivedAt;
  if (age > STALE_AFTER_MS) {
    return (
      <span className="small muted stale">No new sample for {Math.round(age / 1000)} s: is the monitor running?</span>
    );
  }
  return <span className="small muted">Updated {timeOfDay(snapshot.latestAt)}</span>;
}

/** The latest second per version: traffic share, rate, errors, latency percentiles, in flight, replicas. */
export function MetricsTable({ snapshot }: { snapshot: LiveSnapshot }) {
  const { latest, stable, rollout } = snapshot;
  const columns: Column<LivePoint>[] = [
    {
      header: "Version",
      cell: (point) => {
        const role = versionRole(point.version, stable, rollout);
        return (
          <>
            <Swatch version={point.version} />v{point.version}
            {role ? <span className={`role role-${role.replace(" ", "-")}`}>{role}</span> : null}
          </>
        );
      },
    },
    { header: "Traffic", numeric: true, cell: (point) => versionTraffic(point.version, stable, rollout) },
    {
      header: "Requests/s",
      numeric: true,
      cell: (point) => number(point.rate),
      cellProps: (point) => ({ "data-metric": "rate", title: rateTitle(point) }),
    },
    {
      header: "Errors (5xx)",
      numeric: true,
      className: "",
      cell: (point) => percent(point.error_rate),
      cellProps: (point) => ({
        "data-metric": "error-rate",
        className: `num${point.errors > 0 ? " bad" : ""}`,
        title: `In the last second: ${point.errors} answered 5xx, ${point.client_errors} answered 4xx`,
      }),
    },
    { header: "p50", numeric: true, cell: (p) => milliseconds(p.p50_ms), cellProps: () => ({ "data-metric": "p50" }) },
    { header: "p95", numeric: true, cell: (p) => milliseconds(p.p95_ms), cellProps: () => ({ "data-metric": "p95" }) },
    { header: "p99", numeric: true, cell: (p) => milliseconds(p.p99_ms), cellProps: () => ({ "data-metric": "p99" }) },
    {
      header: "In flight",
      numeric: true,
      cell: (point) => (point.ongoing === null ? "—" : number(point.ongoing)),
      cellProps: () => ({ "data-metric": "in-flight" }),
    },
    {
      header: "Replicas",
      numeric: true,
      cell: (point) => (
        <>
          {`${point.replicas_ready}/${point.replicas_total} ready`}
          {point.replicas_loading > 0 ? <span className="muted">{` · ${point.replicas_loading} loading`}</span> : null}
          {point.replicas_failed > 0 ? (
            <span className="badge badge-invalid failed-count">{`${point.replicas_failed} failed`}</span>
          ) : null}
        </>
      ),
      cellProps: (point) => ({ "data-metric": "replicas", title: replicaStates(point.replica_states) }),
    },
  ];
  let body;
  if (latest === null) body = <div className="empty">The numbers appear with the monitor's next sample.</div>;
  else if (latest.length === 0) body = <div className="empty">No version of this deployment is running.</div>;
  else {
    body = (
      <Table
        caption="Live numbers per version, for the last second"
        className="live-table"
        columns={columns}
        rows={[...latest].sort((a, b) => a.version - b.version)}
        rowKey={(point) => point.version}
        rowProps={(point) => ({
          "data-version": point.version,
          className: point.replicas_failed > 0 ? "row-failed" : undefined,
        })}
      />
    );
  }
  return (
    <section className="live-now" aria-labelledby="now-title">
      <div className="section-header">
        <h2 id="now-title">Now, per version</h2>
        <Freshness snapshot={snapshot} />
      </div>
      <div className="table-slot">{body}</div>
    </section>
  );
}
