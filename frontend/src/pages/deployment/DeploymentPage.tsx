// The live deployment page (/deployments/<id>): what the deployment serves, its rollout with the commands that
// steer it, per-version numbers every second, 15 minutes of charts, rollout events and replica logs.

import { useState } from "react";
import { Link, useParams } from "react-router";

import type { User } from "../../api/types";
import { useUser } from "../../app/user";
import { Breadcrumb } from "../../components/Breadcrumb";
import { ConnectionIndicator, combinedState } from "../../components/ConnectionIndicator";
import { Notice } from "../../components/Notice";
import { TeamBadge } from "../../components/Badges";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import type { SocketState } from "../../live/socket";
import { useOnline } from "../../live/useOnline";
import { canDeploy } from "../../lib/roles";
import { NotFoundPage } from "../NotFoundPage";
import { EventList } from "./EventList";
import { LiveCharts } from "./LiveCharts";
import { LogsPane } from "./LogsPane";
import { MetricsTable } from "./MetricsTable";
import { RolloutCard } from "./RolloutCard";
import { useLiveDeployment } from "./useLiveDeployment";

export function DeploymentPage() {
  const user = useUser();
  const { id: raw } = useParams();
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1) return <NotFoundPage />;
  return <LiveDeploymentView key={id} user={user} id={id} />;
}

function LiveDeploymentView({ user, id }: { user: User; id: number }) {
  const { live, snapshot, socketState, checkAccess } = useLiveDeployment(id);
  const [logsState, setLogsState] = useState<SocketState>("connecting");
  const online = useOnline();
  const { deployment, stable, rollout } = snapshot;
  useDocumentTitle(deployment ? `${deployment.model} · live` : `Deployment ${id}`);

  const trail = [
    { label: "Models", to: "/models" },
    deployment
      ? { label: deployment.model, to: `/models/${encodeURIComponent(deployment.model)}` }
      : { label: `Deployment ${id}` },
    { label: "Live" },
  ];

  if (snapshot.denied) {
    return (
      <div className="page live-page">
        <Breadcrumb trail={trail} />
        <h1>Deployment {id}</h1>
        <Notice kind="error">
          No access: there is no deployment with this number, or it belongs to a team you are not in.{" "}
          <Link to="/">See the deployments you can see.</Link>
        </Notice>
      </div>
    );
  }

  const indicator = combinedState([socketState, logsState], online);
  return (
    <div className="page live-page">
      <div className="live-header">
        <Breadcrumb trail={trail} />
        <div className="page-header">
          <div>
            <h1>{deployment ? deployment.model : `Deployment ${id}`}</h1>
            {deployment ? (
              <div className="meta-row">
                <TeamBadge team={deployment.team} />
                <span className="meta-item">
                  stable{" "}
                  {stable === null ? <span className="muted">none</span> : <strong data-stable={stable}>v{stable}</strong>}
                </span>
                <span className="meta-item">
                  route <code>{deployment.route}</code>
                </span>
                <span className="meta-item">
                  {rollout ? `rollout #${rollout.id} ${rollout.phase}` : "no rollout in progress"}
                </span>
              </div>
            ) : (
              <p className="muted" role="status">
                Loading…
              </p>
            )}
          </div>
          <ConnectionIndicator state={indicator} />
        </div>
      </div>
      {snapshot.loadError ? <Notice kind="error">{snapshot.loadError}</Notice> : null}
      {rollout && deployment ? (
        <RolloutCard
          rollout={rollout}
          deployment={deployment.id}
          canCommand={canDeploy(user, deployment.team)}
          team={deployment.team}
          onChanged={(updated) => live.rolloutChanged(updated)}
        />
      ) : null}
      <MetricsTable snapshot={snapshot} />
      <LiveCharts live={live} snapshot={snapshot} />
      <EventList events={snapshot.events} />
      <LogsPane deployment={id} onState={setLogsState} onHandshakeFailed={checkAccess} onForbidden={() => live.deny()} />
    </div>
  );
}
