import { ApiError, api, type Deployment, type Model, type ModelVersion, type User } from "./api";
import { type Child, field, h, notice, replace, showNotice } from "./dom";
import { dateCell, humanSize, shortSha, statusBadge } from "./format";
import { tagList } from "./models";
import { takeFlash } from "./router";

const ACCEPTED = ".skops,.onnx,.pt,.pt2,.keras,.zip,.pkl,.pickle,.joblib";

/** Where Ray Serve answers: this page's host, on the port Django announces (RAYLANE_SERVE_PORT, default 8080). */
export function inferenceUrls(model: string): { v1: string; v2: string } {
  const port = document.querySelector<HTMLMetaElement>('meta[name="raylane-serve-port"]')?.content || "8080";
  const origin = `http://${window.location.hostname}:${port}`;
  return { v1: `${origin}/v1/models/${model}:predict`, v2: `${origin}/v2/models/${model}/infer` };
}

export function roleIn(user: User, team: string): "viewer" | "deployer" | "admin" | null {
  if (user.is_superuser) return "admin";
  return user.teams.find((m) => m.team === team)?.role ?? null;
}

function message(error: unknown): string {
  return error instanceof ApiError ? error.message : String(error);
}

/** One model: who serves it and where, its versions, an upload form and a Deploy button per deployable version. */
export function modelPage(user: User, name: string): HTMLElement {
  const page = h("div", { class: "page" });
  const flash = takeFlash();
  replace(page, breadcrumb(name), h("p", { class: "muted", role: "status" }, "Loading…"));

  void Promise.all([api.model(name), api.versions(name), api.deploymentOf(name)]).then(
    ([model, versions, deployment]) => {
      new ModelView(page, user, model, versions.results, deployment).render(flash);
    },
    (error: unknown) => {
      const missing = error instanceof ApiError && error.status === 404;
      replace(
        page,
        breadcrumb(name),
        h("h1", {}, name),
        notice(
          "error",
          missing ? `There is no model named “${name}”, or it belongs to a team you are not in.` : message(error),
        ),
      );
    },
  );
  return page;
}

function breadcrumb(name: string): HTMLElement {
  return h(
    "nav",
    { class: "breadcrumb", "aria-label": "Breadcrumb" },
    h("a", { href: "#/models" }, "Models"),
    h("span", { "aria-hidden": "true" }, " / "),
    h("span", { "aria-current": "page" }, name),
  );
}

class ModelView {
  private readonly deploymentSlot = h("section", { class: "card", "aria-labelledby": "deployment-title" });
  private readonly versionsSlot = h("div", { class: "table-slot" });
  private readonly deployNotice = h("div", { class: "notice-slot" });
  private readonly canWrite: boolean;

  constructor(
    private readonly page: HTMLElement,
    user: User,
    private readonly model: Model,
    private versions: ModelVersion[],
    private deployment: Deployment | null,
  ) {
    const role = roleIn(user, model.team);
    this.canWrite = role === "deployer" || role === "admin";
  }

  render(flash: string | null): void {
    const model = this.model;
    replace(
      this.page,
      breadcrumb(model.name),
      h(
        "div",
        { class: "page-header" },
        h(
          "div",
          {},
          h("h1", {}, model.name),
          h(
            "div",
            { class: "meta-row" },
            h("span", { class: "team", title: "Team" }, model.team),
            tagList(model.tags, model.name),
            model.owner ? h("span", { class: "muted small" }, `created by ${model.owner}`) : null,
          ),
          model.description ? h("p", { class: "description" }, model.description) : null,
        ),
      ),
      flash ? notice("success", flash) : null,
      h("div", { class: "grid-2 cards" }, this.deploymentSlot, this.uploadCard()),
      h(
        "section",
        { "aria-labelledby": "versions-title" },
        h("h2", { id: "versions-title" }, "Versions"),
        this.versionsSlot,
      ),
    );
    this.renderDeployment();
    this.renderVersions();
  }

  private async refresh(): Promise<void> {
    const [versions, deployment] = await Promise.all([api.versions(this.model.name), api.deploymentOf(this.model.name)]);
    this.versions = versions.results;
    this.deployment = deployment;
    this.renderDeployment();
    this.renderVersions();
  }

  private renderDeployment(): void {
    const deployment = this.deployment;
    const heading = h("h2", { id: "deployment-title" }, "Deployment");
    if (deployment === null || deployment.stable_version === null) {
      replace(
        this.deploymentSlot,
        h("div", { class: "card-header" }, heading, h("span", { class: "badge badge-idle" }, "not deployed")),
        this.deployNotice,
        h(
          "p",
          { class: "muted" },
          this.versions.some((v) => v.deployable)
            ? "Deploy a valid version from the table below to serve it on Ray."
            : "Upload a version; once it is valid you can deploy it from the table below.",
        ),
      );
      return;
    }
    const urls = inferenceUrls(this.model.name);
    replace(
      this.deploymentSlot,
      h(
        "div",
        { class: "card-header" },
        heading,
        h(
          "div",
          { class: "card-header-tools" },
          h("span", { class: "badge badge-live" }, "deployed"),
          h("a", { class: "button button-small", href: `#/deployments/${deployment.id}` }, "Live view"),
        ),
      ),
      this.deployNotice,
      h(
        "p",
        {},
        "Serving ",
        h("strong", {}, `version ${deployment.stable_version}`),
        h("span", { class: "muted" }, " · updated "),
        dateCell(deployment.updated_at),
      ),
      h(
        "dl",
        { class: "endpoints", "aria-label": "Inference URLs" },
        h("dt", {}, "KServe v1"),
        h("dd", {}, h("code", {}, urls.v1)),
        h("dt", {}, "Open Inference v2"),
        h("dd", {}, h("code", {}, urls.v2)),
      ),
      h(
        "p",
        { class: "hint" },
        "POST JSON to either URL. Add the header ",
        h("code", {}, "X-Raylane-Version: N"),
        " to pin a request to one version.",
      ),
    );
  }

  private renderVersions(): void {
    if (this.versions.length === 0) {
      replace(this.versionsSlot, h("div", { class: "empty" }, "No versions yet. Upload a model file to create version 1."));
      return;
    }
    const headers = ["Version", "Format", "Framework", "Status", "Trusted", "SHA-256", "Size", "Created", ""];
    replace(
      this.versionsSlot,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table" },
          h("caption", { class: "visually-hidden" }, `Versions of ${this.model.name}`),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              headers.map((title) =>
                title ? h("th", { scope: "col" }, title) : h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
              ),
            ),
          ),
          h("tbody", {}, this.versions.map((version) => this.versionRow(version))),
        ),
      ),
    );
  }

  private versionRow(version: ModelVersion): HTMLTableRowElement {
    const framework = [version.framework, version.framework_version].filter(Boolean).join(" ");
    return h(
      "tr",
      { "data-version": version.version },
      h("th", { scope: "row", class: "num" }, `v${version.version}`),
      h("td", {}, version.format),
      h("td", {}, framework || h("span", { class: "muted" }, "—")),
      h("td", {}, statusBadge(version.validation_status, version.validation_error)),
      h("td", {}, version.trusted ? "yes" : h("span", { class: "muted" }, "no")),
      h("td", {}, h("code", { class: "sha", title: version.sha256 }, shortSha(version.sha256))),
      h("td", { class: "num", title: `${version.size.toLocaleString()} bytes` }, humanSize(version.size)),
      h("td", {}, dateCell(version.created_at)),
      h("td", { class: "actions-cell" }, this.deployControl(version)),
    );
  }

  private deployControl(version: ModelVersion): Child {
    if (this.deployment?.stable_version === version.version) return h("span", { class: "badge badge-live" }, "serving");
    if (!this.canWrite || !version.deployable) return null;
    const button = h(
      "button",
      { type: "button", class: "button button-small", "aria-label": `Deploy version ${version.version}` },
      "Deploy",
    );
    button.addEventListener("click", () => void this.deploy(version.version, button));
    return button;
  }

  /** Create the model's deployment, or point the existing one at this version. */
  private async deploy(version: number, button: HTMLButtonElement): Promise<void> {
    showNotice(this.deployNotice, "error", null);
    for (const other of this.versionsSlot.querySelectorAll("button")) other.disabled = true;
    button.textContent = "Deploying…";
    try {
      const current = await api.deploymentOf(this.model.name);
      if (current === null) await api.createDeployment(this.model.name, version);
      else await api.updateDeployment(current.id, version);
      await this.refresh();
      showNotice(this.deployNotice, "success", `Version ${version} is deployed; Ray Serve picks it up in a moment.`);
    } catch (error) {
      showNotice(this.deployNotice, "error", message(error));
      for (const other of this.versionsSlot.querySelectorAll("button")) other.disabled = false;
      button.textContent = "Deploy";
    }
  }

  private uploadCard(): HTMLElement {
    const heading = h("h2", { id: "upload-title" }, "Upload a new version");
    if (!this.canWrite) {
      return h(
        "section",
        { class: "card", "aria-labelledby": "upload-title" },
        heading,
        h("p", { class: "muted" }, `Uploading and deploying need the deployer role in team ${this.model.team}.`),
      );
    }
    const file = h("input", { type: "file", name: "artifact", accept: ACCEPTED, required: true });
    const metadata = h("textarea", {
      name: "metadata",
      rows: 2,
      spellcheck: "false",
      placeholder: '{"accuracy": 0.97, "dataset": "iris-2024"}',
    });
    const fileField = field(
      "Model file",
      file,
      "skops, ONNX, TorchScript, Keras, SavedModel or Python package (.zip); pickle and joblib need an admin's trust.",
    );
    const metadataField = field("Metadata (JSON, optional)", metadata);
    const submit = h("button", { type: "submit", class: "button button-primary" }, "Upload");
    const progress = h("progress", { max: 100, value: 0, id: "upload-progress" });
    const progressText = h("span", { class: "small muted" });
    const progressRow = h(
      "div",
      { class: "progress-row", hidden: true },
      h("label", { for: "upload-progress", class: "visually-hidden" }, "Upload progress"),
      progress,
      progressText,
    );
    const alertSlot = h("div", { class: "notice-slot" });

    const form = h(
      "form",
      { class: "stack", novalidate: true, "aria-labelledby": "upload-title" },
      alertSlot,
      fileField.element,
      metadataField.element,
      h("div", { class: "actions" }, submit, progressRow),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showNotice(alertSlot, "error", null);
      fileField.setErrors([]);
      metadataField.setErrors([]);
      const chosen = file.files?.[0];
      if (!chosen) {
        fileField.setErrors(["Choose a model file."]);
        file.focus();
        return;
      }
      const body = new FormData();
      body.append("artifact", chosen, chosen.name);
      if (metadata.value.trim()) {
        try {
          JSON.parse(metadata.value);
        } catch (error) {
          metadataField.setErrors([`This is not valid JSON: ${(error as Error).message}`]);
          metadata.focus();
          return;
        }
        body.append("metadata", metadata.value.trim());
      }
      submit.disabled = true;
      progressRow.hidden = false;
      progress.value = 0;
      progressText.textContent = `Sending ${chosen.name}…`;
      try {
        const version = await api.uploadVersion(this.model.name, body, (fraction) => {
          progress.value = Math.round(fraction * 100);
          progressText.textContent =
            fraction < 1 ? `${Math.round(fraction * 100)}% of ${humanSize(chosen.size)}` : "Checking the model…";
        });
        form.reset();
        await this.refresh();
        showNotice(
          alertSlot,
          "success",
          `Uploaded ${version.filename} as version ${version.version}: ${version.validation_status.replace("_", " ")}.`,
        );
      } catch (error) {
        const fieldErrors = error instanceof ApiError ? error.fieldErrors() : new Map<string, string[]>();
        if (fieldErrors.has("metadata")) metadataField.setErrors(fieldErrors.get("metadata") ?? []);
        // "artifact: The submitted file is empty." reads better without the form field's name in front.
        const aboutFile = fieldErrors.get("artifact");
        showNotice(alertSlot, "error", aboutFile?.length ? aboutFile.join(" ") : message(error));
      } finally {
        submit.disabled = false;
        progressRow.hidden = true;
      }
    });
    return h("section", { class: "card", "aria-labelledby": "upload-title" }, heading, form);
  }
}
