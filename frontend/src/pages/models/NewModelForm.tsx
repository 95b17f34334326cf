import { type FormEvent, useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router";

import { ApiError, errorMessage } from "../../api/client";
import { useCreateModel, useTeams } from "../../api/queries";
import { paths } from "../../app/paths";
import { useUser } from "../../app/user";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { useToast } from "../../components/Toasts";

const FIELDS = ["name", "team", "description", "tags"] as const;
type FieldName = (typeof FIELDS)[number];

/** Name, team, description and tags; the API's errors shown at their fields. */
export function NewModelForm({ onClose }: { onClose: () => void }) {
  const user = useUser();
  const teams = useTeams();
  const create = useCreateModel();
  const navigate = useNavigate();
  const toast = useToast();
  const [name, setName] = useState("");
  const [team, setTeam] = useState("");
  const [description, setDescription] = useState("");
  const [tags, setTags] = useState("");
  const [errors, setErrors] = useState<Partial<Record<FieldName, string[]>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const form = useRef<HTMLFormElement>(null);

  const writable = (teams.data?.results ?? []).filter(
    (candidate) => user.is_superuser || candidate.my_role === "deployer" || candidate.my_role === "admin",
  );
  useEffect(() => {
    if (writable.length === 1 && team === "") setTeam(writable[0].slug);
  }, [writable, team]);
  useEffect(() => {
    form.current?.querySelector("input")?.focus();
  }, []);
  useEffect(() => {
    form.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setErrors({});
    setFormError(null);
    try {
      const model = await create.mutateAsync({
        name: name.trim(),
        team,
        description: description.trim(),
        tags: tags
          .split(",")
          .map((tag) => tag.trim())
          .filter(Boolean),
      });
      toast({ kind: "success", message: `Created model ${model.name}. Upload its first version.` });
      navigate(paths.model(model.name));
    } catch (error) {
      if (!(error instanceof ApiError)) {
        setFormError(errorMessage(error));
        return;
      }
      const placed: Partial<Record<FieldName, string[]>> = {};
      const unplaced: string[] = [];
      for (const [key, messages] of error.fieldErrors()) {
        if ((FIELDS as readonly string[]).includes(key)) placed[key as FieldName] = messages;
        else unplaced.push(...messages);
      }
      setErrors(placed);
      if (Object.keys(placed).length === 0 || unplaced.length) setFormError(unplaced.join(" ") || error.message);
    }
  };

  return (
    <form
      ref={form}
      className="card form-card"
      noValidate
      aria-labelledby="new-model-title"
      onSubmit={submit}
      onKeyDown={(event) => {
        if (event.key === "Escape") onClose();
      }}
    >
      <h2 id="new-model-title">New model</h2>
      {formError ? <Notice kind="error">{formError}</Notice> : null}
      {teams.isError ? <Notice kind="error">{errorMessage(teams.error)}</Notice> : null}
      <div className="grid-2">
        <Field
          label="Name"
          hint="Lowercase letters, digits and hyphens. It becomes the model's inference route."
          errors={errors.name}
        >
          {(props) => (
            <input
              {...props}
              name="name"
              autoComplete="off"
              spellCheck={false}
              maxLength={63}
              required
              value={name}
              onChange={(event) => setName(event.target.value)}
            />
          )}
        </Field>
        <Field label="Team" errors={errors.team}>
          {(props) => (
            <select {...props} name="team" required value={team} onChange={(event) => setTeam(event.target.value)}>
              {teams.isPending ? <option value="">Loading teams…</option> : null}
              {!teams.isPending && writable.length !== 1 ? <option value="">Choose a team</option> : null}
              {writable.map((candidate) => (
                <option key={candidate.slug} value={candidate.slug}>
                  {candidate.name === candidate.slug ? candidate.slug : `${candidate.name} (${candidate.slug})`}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field label="Description" errors={errors.description}>
        {(props) => (
          <textarea
            {...props}
            name="description"
            rows={2}
            value={description}
            onChange={(event) => setDescription(event.target.value)}
          />
        )}
      </Field>
      <Field label="Tags" hint="Separate tags with commas." errors={errors.tags}>
        {(props) => (
          <input
            {...props}
            name="tags"
            autoComplete="off"
            placeholder="tabular, iris"
            value={tags}
            onChange={(event) => setTags(event.target.value)}
          />
        )}
      </Field>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create model"}
        </button>
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
