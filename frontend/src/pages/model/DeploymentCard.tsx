import { Link } from "react-router";

import type { Deployment } from "../../api/types";
import { paths } from "../../app/paths";
import { CopyButton } from "../../components/CopyButton";
import { DateTime } from "../../components/Time";

/** Where Ray Serve answers: this page's host, on the port Django announces (RAYLANE_SERVE_PORT, default 8080). */
export function inferenceUrls(model: string): { v1: string; v2: string } {
  const port = document.querySelector<HTMLMetaElement>('meta[name="raylane-serve-port"]')?.content || "8080";
  const origin = `http://${window.location.hostname}:${port}`;
  return { v1: `${origin}/v1/models/${model}:predict`, v2: `${origin}/v2/models/${model}/infer` };
}

function Endpoint({ label, url }: { label: string; url: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>
        <code>{url}</code>
        <CopyButton text={url} label={`the ${label} URL`} />
      </dd>
    </>
  );
}

export function DeploymentCard({
  model,
  deployment,
  anyDeployable,
}: {
  model: string;
  deployment: Deployment | null;
  anyDeployable: boolean;
}) {
  const heading = <h2 id="deployment-title">Deployment</h2>;
  if (deployment === null || deployment.stable_version === null || deployment.stable_version === undefined) {
    return (
      <section className="card" aria-labelledby="deployment-title">
        <div className="card-header">
          {heading}
          <span className="badge badge-idle">not deployed</span>
        </div>
        <p className="muted">
          {anyDeployable
            ? "Deploy a valid version from the table below to serve it on Ray."
            : "Upload a version; once it is valid you can deploy it from the table below."}
        </p>
      </section>
    );
  }
  const urls = inferenceUrls(model);
  return (
    <section className="card" aria-labelledby="deployment-title">
      <div className="card-header">
        {heading}
        <div className="card-header-tools">
          <span className="badge badge-live">deployed</span>
          <Link className="button button-small" to={paths.deployment(deployment.id)}>
            Live view
          </Link>
        </div>
      </div>
      <p>
        Serving <strong>version {deployment.stable_version}</strong>
        <span className="muted"> · updated </span>
        <DateTime iso={deployment.updated_at} />
      </p>
      <dl className="endpoints" aria-label="Inference URLs">
        <Endpoint label="KServe v1" url={urls.v1} />
        <Endpoint label="Open Inference v2" url={urls.v2} />
      </dl>
      <p className="hint">
        POST JSON to either URL. Add the header <code>X-Raylane-Version: N</code> to pin a request to one version.
      </p>
    </section>
  );
}
