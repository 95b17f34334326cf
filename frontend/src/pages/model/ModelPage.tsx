import { useParams } from "react-router";

import { ApiError, errorMessage } from "../../api/client";
import { useDeploymentOf, useModel, useVersions } from "../../api/queries";
import { paths } from "../../app/paths";
import { useUser } from "../../app/user";
import { Breadcrumb } from "../../components/Breadcrumb";
import { TagList, TeamBadge } from "../../components/Badges";
import { Notice } from "../../components/Notice";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { canDeploy } from "../../lib/roles";
import { DeploymentCard } from "./DeploymentCard";
import { UploadCard } from "./UploadCard";
import { VersionsTable } from "./VersionsTable";

/** One model: who serves it and where, its versions, an upload form and a Deploy button per deployable version. */
export function ModelPage() {
  const { name = "" } = useParams();
  useDocumentTitle(name);
  const user = useUser();
  const model = useModel(name);
  const versions = useVersions(name);
  const deployment = useDeploymentOf(name);
  const trail = [{ label: "Models", to: paths.models() }, { label: name }];

  const failed = model.error ?? versions.error ?? deployment.error;
  if (failed) {
    const missing = failed instanceof ApiError && failed.status === 404;
    return (
      <div className="page">
        <Breadcrumb trail={trail} />
        <h1>{name}</h1>
        <Notice kind="error">
          {missing ? `There is no model named “${name}”, or it belongs to a team you are not in.` : errorMessage(failed)}
        </Notice>
      </div>
    );
  }
  if (!model.data || !versions.data || deployment.data === undefined) {
    return (
      <div className="page">
        <Breadcrumb trail={trail} />
        <h1>{name}</h1>
        <p className="muted" role="status">
          Loading…
        </p>
      </div>
    );
  }
  const writable = canDeploy(user, model.data.team);
  return (
    <div className="page">
      <Breadcrumb trail={trail} />
      <div className="page-header">
        <div>
          <h1>{model.data.name}</h1>
          <div className="meta-row">
            <TeamBadge team={model.data.team} />
            <TagList tags={model.data.tags ?? []} model={model.data.name} />
            {model.data.owner ? <span className="muted small">created by {model.data.owner}</span> : null}
          </div>
          {model.data.description ? <p className="description">{model.data.description}</p> : null}
        </div>
      </div>
      <div className="grid-2 cards">
        <DeploymentCard
          model={model.data.name}
          deployment={deployment.data}
          anyDeployable={versions.data.results.some((version) => version.deployable)}
        />
        <UploadCard model={model.data.name} team={model.data.team} writable={writable} />
      </div>
      <section aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        <VersionsTable
          model={model.data.name}
          versions={versions.data.results}
          serving={deployment.data?.stable_version ?? null}
          writable={writable}
        />
      </section>
    </div>
  );
}
