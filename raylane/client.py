"""`Client`: the whole model lifecycle from Python, over the public REST API and websockets only.

import raylane
client = raylane.Client()                      # RAYLANE_URL / RAYLANE_TOKEN, or what `raylane login` stored
version = client.log_model(estimator, name="iris", team="ml")
client.deploy("iris", version.version, wait=True)
client.rollout("iris", 2, policy="careful").wait()   # raises RolloutFailed with the reason on rollback
client.predict("iris", [[5.1, 3.5, 1.4, 0.2]]).predictions
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from .artifacts import serialize
from .config import resolve
from .errors import BadRequest, NotConfigured, WaitTimeout
from .inference import discover_serve_url, inference_headers, inference_path, prediction_from, v1_payload, v2_payload
from .logs import follow_logs
from .resources import (
    Audit,
    DeploymentRef,
    Deployments,
    Models,
    Policies,
    PolicyRef,
    Progress,
    Rollouts,
    Teams,
    Tokens,
    Versions,
    me,
)
from .rollouts import RolloutHandle
from .transport import DEFAULT_TIMEOUT_S, Transport, normalized_url, unreachable
from .types import Deployment, LogLine, ModelVersion, Prediction, User

SERVING_POLL_S = 0.5


class Client:
    """A Raylane server, authenticated with an API token.

    Each argument falls back to the environment (RAYLANE_URL, RAYLANE_TOKEN, RAYLANE_SERVE_URL), then to the config
    file `raylane login` writes (`config_path`, default RAYLANE_CONFIG or ~/.config/raylane/config.json).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        serve_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        config_path: str | Path | None = None,
    ) -> None:
        settings = resolve(url=url, token=token, serve_url=serve_url, path=Path(config_path) if config_path else None)
        if not settings.url:
            raise NotConfigured(
                "no Raylane server given: pass Client(url, token), set RAYLANE_URL and RAYLANE_TOKEN, or run "
                "`raylane login`"
            )
        self.transport = Transport(settings.url, settings.token, timeout=timeout)
        self._serve_url = normalized_url(settings.serve_url) if settings.serve_url else None
        self._inference: httpx.Client | None = None
        self.models = Models(self.transport)
        self.versions = Versions(self.transport)
        self.deployments = Deployments(self.transport)
        self.policies = Policies(self.transport)
        self.rollouts = Rollouts(self.transport)
        self.teams = Teams(self.transport)
        self.tokens = Tokens(self.transport)
        self.audit = Audit(self.transport)

    def __repr__(self) -> str:
        return f"<raylane.Client {self.url}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()
        if self._inference is not None:
            self._inference.close()

    @property
    def url(self) -> str:
        return self.transport.url

    @property
    def serve_url(self) -> str:
        """Where the models answer (the Serve ingress): given, or announced by the server's console page."""
        if self._serve_url is None:
            self._serve_url = discover_serve_url(self.transport.http, self.url)
        return self._serve_url

    def me(self) -> User:
        """Who the token belongs to, and their teams and roles."""
        return me(self.transport)

    def default_team(self) -> str:
        teams = [membership["team"] for membership in self.me().teams]
        if len(teams) == 1:
            return teams[0]
        named = ", ".join(teams) if teams else "none"
        raise BadRequest(f"name the team (team=...): you belong to {named}", status=400, field="team")

    def log_model(
        self,
        obj: Any,
        name: str,
        *,
        team: str | None = None,
        description: str = "",
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        signature: dict[str, Any] | None = None,
        example_input: Any = None,
        format: str | None = None,
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Register `obj` as the next version of model `name` (created in `team` when it does not exist yet).

        `obj` is a fitted scikit-learn estimator (saved with skops), a torch.nn.Module (`example_input` required;
        `format="torch_export"` (default) or `"torchscript"`), a Keras model, or the path of a model file. The
        server validates the file before it answers: the version returned says whether it is `deployable`, and a
        file it cannot load raises BadRequest with the reason. `progress(sent, total)` follows the upload.
        """
        if self.models.find(name) is None:
            self.models.create(name, team=team or self.default_team(), description=description, tags=tags)
        with tempfile.TemporaryDirectory(prefix="raylane-") as folder:
            path, _ = serialize(obj, Path(folder), name=name, example_input=example_input, format=format)
            return self.versions.upload(name, path, metadata=metadata, signature=signature, progress=progress)

    def deploy(
        self, model: str, version: int | None = None, *, wait: bool = False, timeout: float = 300.0, **options: Any
    ) -> Deployment:
        """Serve `version` (default: the newest deployable one) of `model` at 100%: creates the model's deployment,
        or switches an existing one at once (use `rollout` to switch gradually). `options` are deployment settings
        (autoscaling, resources, batching, default_policy, pooled, ...). `wait` blocks until the version answers."""
        if version is None:
            version = self.latest_deployable(model)
        existing = self.deployments.find(model)
        if existing is None:
            deployment = self.deployments.create(model, version=version, **options)
        else:
            deployment = self.deployments.update(existing.id, stable_version=version, **options)
        if wait:
            self.wait_until_serving(model, version, timeout=timeout)
        return deployment

    def latest_deployable(self, model: str) -> int:
        versions = [version for version in self.versions.list(model) if version.deployable]
        if not versions:
            raise BadRequest(f"model '{model}' has no deployable version yet", status=400, field="version")
        return max(version.version for version in versions)

    def undeploy(self, deployment: DeploymentRef) -> None:
        """Stop serving: the deployment is deleted and its replicas go away (the model and versions stay)."""
        self.deployments.delete(deployment)

    def rollback(self, deployment: DeploymentRef, version: int) -> Deployment:
        """Serve an earlier `version` at 100% at once, aborting any active rollout."""
        return self.deployments.rollback(deployment, version)

    def rollout(self, deployment: DeploymentRef, version: int, *, policy: PolicyRef | None = None) -> RolloutHandle:
        """Start replacing the deployment's stable version with `version` under `policy` (id or name; default: the
        deployment's default policy). The handle's `wait()` blocks until it ends and raises RolloutFailed with the
        recorded reason when it is rolled back or aborted; `watch()` yields its events as they happen."""
        target = self.deployments.get(deployment)
        policy_id = None
        if policy is not None:
            policy_id = self.policies.get(policy, team=target.team).id
        return RolloutHandle(self, self.rollouts.start(target.id, version, policy=policy_id))

    def rollout_handle(self, rollout_id: int) -> RolloutHandle:
        """A handle on a rollout started elsewhere (the console, another script)."""
        return RolloutHandle(self, self.rollouts.get(rollout_id))

    def predict(
        self,
        model: str,
        data: Any,
        *,
        version: int | None = None,
        protocol: str = "v1",
        key: str | None = None,
        session: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> Prediction:
        """Ask the deployed model. `data`: rows (a nested list or NumPy array), or a complete v1/v2 body.
        `version` pins one version (X-Raylane-Version); `key` is a data-plane key for deployments that need one;
        `session` keeps a caller on one version while weights stay (sticky routing)."""
        path = inference_path(model, protocol)
        body = v1_payload(data) if protocol == "v1" else v2_payload(data)
        headers = inference_headers(version=version, key=key, session=session)
        http = self.inference_http()
        try:
            response = http.post(f"{self.serve_url}{path}", json=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise unreachable(self.serve_url, exc) from exc
        return prediction_from(model, protocol, response)

    def inference_http(self) -> httpx.Client:
        """A client of its own for the data plane: the control plane's token is never sent there."""
        if self._inference is None:
            self._inference = httpx.Client(headers={"User-Agent": self.transport.http.headers["User-Agent"]})
        return self._inference

    def wait_until_serving(self, model: str, version: int | None = None, *, timeout: float = 300.0) -> None:
        """Block until the model (or this version of it) answers on the Serve ingress; WaitTimeout after
        `timeout` seconds. Reconciling a new deployment onto Ray and loading it takes seconds to minutes."""
        suffix = f"/versions/{int(version)}/ready" if version is not None else "/ready"
        url = f"{self.serve_url}/v2/models/{model}{suffix}"
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                response = self.inference_http().get(url, timeout=min(10.0, timeout))
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(SERVING_POLL_S)
        what = f"version {version} of '{model}'" if version is not None else f"'{model}'"
        raise WaitTimeout(f"{what} did not answer at {url} within {timeout:g} s (last: {last})")

    def logs(
        self,
        deployment: DeploymentRef,
        *,
        follow: bool = False,
        version: int | None = None,
        replica: str | None = None,
        level: str | None = None,
        q: str | None = None,
        limit: int | None = None,
    ) -> Iterator[LogLine]:
        """The deployment's replica log lines, oldest first: the recent ones the server keeps, or with
        `follow=True` those and then every new line as it is written (over the websocket, until you stop)."""
        deployment_id = self.deployments.id_of(deployment)
        if not follow:
            lines = self.deployments.logs(
                deployment_id, version=version, replica=replica, level=level, q=q, limit=limit
            )
            return iter(lines)
        filters = {"version": version, "replica": replica, "level": level, "q": q}
        return follow_logs(self.transport, deployment_id, filters)
