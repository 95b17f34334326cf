import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useRef, useState } from "react";

import { ApiError, type UploadProgress, errorMessage } from "../../api/client";
import { api } from "../../api/endpoints";
import { keys } from "../../api/keys";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { humanSize } from "../../lib/format";

const ACCEPTED = ".skops,.onnx,.pt,.pt2,.keras,.zip,.pkl,.pickle,.joblib";

/** "35% · 1.2 MiB of 3.4 MiB", then "Checking the model…" once every byte is sent. */
export function progressText(progress: UploadProgress | null, fileName: string): string {
  if (progress === null) return `Sending ${fileName}…`;
  if (progress.loaded >= progress.total) return "Checking the model…";
  const percent = Math.floor((progress.loaded / progress.total) * 100);
  return `${percent}% · ${humanSize(progress.loaded)} of ${humanSize(progress.total)}`;
}

type Outcome = { kind: "success" | "error"; message: string } | null;

/** The upload form for deployers; for everyone else, why there is none. */
export function UploadCard({ model, team, writable }: { model: string; team: string; writable: boolean }) {
  const heading = <h2 id="upload-title">Upload a new version</h2>;
  if (!writable) {
    return (
      <section className="card" aria-labelledby="upload-title">
        {heading}
        <p className="muted">Uploading and deploying need the deployer role in team {team}.</p>
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="upload-title">
      {heading}
      <UploadForm model={model} />
    </section>
  );
}

function UploadForm({ model }: { model: string }) {
  const client = useQueryClient();
  const fileInput = useRef<HTMLInputElement>(null);
  const metadataInput = useRef<HTMLTextAreaElement>(null);
  const [metadata, setMetadata] = useState("");
  const [fileErrors, setFileErrors] = useState<string[]>([]);
  const [metadataErrors, setMetadataErrors] = useState<string[]>([]);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [sending, setSending] = useState<{ name: string; progress: UploadProgress | null } | null>(null);
  const cancel = useRef<AbortController | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    setOutcome(null);
    setFileErrors([]);
    setMetadataErrors([]);
    const chosen = fileInput.current?.files?.[0];
    if (!chosen) {
      setFileErrors(["Choose a model file."]);
      fileInput.current?.focus();
      return;
    }
    const body = new FormData();
    body.append("artifact", chosen, chosen.name);
    if (metadata.trim()) {
      try {
        JSON.parse(metadata);
      } catch (error) {
        setMetadataErrors([`This is not valid JSON: ${errorMessage(error)}`]);
        metadataInput.current?.focus();
        return;
      }
      body.append("metadata", metadata.trim());
    }
    const controller = new AbortController();
    cancel.current = controller;
    setSending({ name: chosen.name, progress: null });
    try {
      const version = await api.uploadVersion(
        model,
        body,
        (progress) => setSending({ name: chosen.name, progress }),
        controller.signal,
      );
      form.reset();
      setMetadata("");
      await Promise.all([
        client.invalidateQueries({ queryKey: keys.models.detail(model) }),
        client.invalidateQueries({ queryKey: keys.models.all }),
      ]);
      setOutcome({
        kind: "success",
        message: `Uploaded ${version.filename} as version ${version.version}: ${version.validation_status.replace("_", " ")}.`,
      });
    } catch (error) {
      const fieldErrors = error instanceof ApiError ? error.fieldErrors() : new Map<string, string[]>();
      if (fieldErrors.has("metadata")) setMetadataErrors(fieldErrors.get("metadata") ?? []);
      // "artifact: The submitted file is empty." reads better without the form field's name in front.
      const aboutFile = fieldErrors.get("artifact");
      setOutcome({ kind: "error", message: aboutFile?.length ? aboutFile.join(" ") : errorMessage(error) });
    } finally {
      cancel.current = null;
      setSending(null);
    }
  };

  const percent =
    sending?.progress && sending.progress.total > 0
      ? Math.floor((sending.progress.loaded / sending.progress.total) * 100)
      : 0;
  return (
    <form className="stack" noValidate aria-labelledby="upload-title" onSubmit={submit}>
      {outcome ? <Notice kind={outcome.kind}>{outcome.message}</Notice> : null}
      <Field
        label="Model file"
        hint="skops, ONNX, TorchScript, Keras, SavedModel or Python package (.zip); pickle and joblib need an admin's trust."
        errors={fileErrors}
      >
        {(props) => <input {...props} ref={fileInput} type="file" name="artifact" accept={ACCEPTED} required />}
      </Field>
      <Field label="Metadata (JSON, optional)" errors={metadataErrors}>
        {(props) => (
          <textarea
            {...props}
            ref={metadataInput}
            name="metadata"
            rows={2}
            spellCheck={false}
            placeholder='{"accuracy": 0.97, "dataset": "iris-2024"}'
            value={metadata}
            onChange={(event) => setMetadata(event.target.value)}
          />
        )}
      </Field>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={sending !== null}>
          Upload
        </button>
        {sending ? (
          <>
            <div className="progress-row">
              <label htmlFor="upload-progress" className="visually-hidden">
                Upload progress
              </label>
              <progress id="upload-progress" max={100} value={percent} />
              <span className="small muted" data-upload-progress>
                {progressText(sending.progress, sending.name)}
              </span>
            </div>
            <button type="button" className="button button-small" onClick={() => cancel.current?.abort()}>
              Cancel upload
            </button>
          </>
        ) : null}
      </div>
    </form>
  );
}
