import { type FormEvent, useEffect, useState } from "react";
import { useNavigate } from "react-router";

import { errorMessage } from "../../api/client";
import { useCreateModel, useTeams } from "../../api/queries";
import { paths } from "../../app/paths";
import { useUser } from "../../app/user";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { useToast } from "../../components/Toasts";
import { useFormErrors } from "../../components/useFormErrors";

const FIELDS = ["name", "team", "description", "tags"] as const;

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
  const { errors, formError, form, clear, show } = useFormErrors(FIELDS);

  const writable = (teams.data?.results ?? []).filter(
    (candidate) => user.is_superuser || candidate.my_role === "deployer" || candidate.my_role === "admin",
  );
  useEffect(() => {
    if (writable.length === 1 && team === "") setTeam(writable[0].slug);
  }, [writable, team]);
  useEffect(() => {
    form.current?.querySelector("input")?.focus();
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    clear();
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
      show(error);
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
