import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { errorMessage } from "../../api/client";
import { useModels } from "../../api/queries";
import type { Model } from "../../api/types";
import { paths } from "../../app/paths";
import { useUser } from "../../app/user";
import { TagList, TeamBadge } from "../../components/Badges";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { type Column, Table } from "../../components/Table";
import { DateTime } from "../../components/Time";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { plural } from "../../lib/format";
import { deploysSomewhere } from "../../lib/roles";
import { NewModelForm } from "./NewModelForm";

const TYPING_DELAY_MS = 200;

const COLUMNS: Column<Model>[] = [
  {
    header: "Name",
    rowHeader: false,
    cell: (model) => (
      <>
        <Link to={paths.model(model.name)} className="strong">
          {model.name}
        </Link>
        {model.description ? <div className="muted small clamp">{model.description}</div> : null}
      </>
    ),
  },
  { header: "Team", cell: (model) => <TeamBadge team={model.team} /> },
  { header: "Tags", cell: (model) => <TagList tags={model.tags ?? []} model={model.name} /> },
  {
    header: "Latest version",
    numeric: true,
    cell: (model) =>
      model.latest_version === null ? (
        <span className="muted">none</span>
      ) : (
        <span title={plural(model.version_count, "version")}>v{model.latest_version}</span>
      ),
  },
  { header: "Updated", cell: (model) => <DateTime iso={model.updated_at} /> },
];

/** The models list: a search box (kept in the URL), a table, and the form that creates a model. */
export function ModelsPage() {
  useDocumentTitle("Models");
  const user = useUser();
  const [params, setParams] = useSearchParams();
  const search = params.get("q") ?? "";
  const [typed, setTyped] = useState(search);
  const [creating, setCreating] = useState(false);
  const newButton = useRef<HTMLButtonElement>(null);
  const closeForm = () => {
    setCreating(false);
    window.setTimeout(() => newButton.current?.focus(), 0); // once the button is back
  };
  const models = useModels(search.trim());

  useEffect(() => {
    if (typed === search) return;
    const timer = window.setTimeout(
      () => setParams(typed ? { q: typed } : {}, { replace: true }),
      TYPING_DELAY_MS,
    );
    return () => window.clearTimeout(timer);
  }, [typed, search, setParams]);

  let body;
  if (models.isError) body = <Notice kind="error">{errorMessage(models.error)}</Notice>;
  else if (!models.data) body = <p className="muted">Loading models…</p>;
  else if (models.data.results.length === 0) {
    body = (
      <div className="empty">
        {search ? `No model matches “${search}”.` : "No models yet. Create one with New model, then upload a file."}
      </div>
    );
  } else {
    body = <Table caption="Models" columns={COLUMNS} rows={models.data.results} rowKey={(model) => model.name} />;
  }

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Models</h1>
          {models.data ? <span className="count">{plural(models.data.count, "model")}</span> : null}
        </div>
        {deploysSomewhere(user) && !creating ? (
          <button
            ref={newButton}
            type="button"
            className="button button-primary"
            aria-expanded={false}
            onClick={() => setCreating(true)}
          >
            New model
          </button>
        ) : null}
      </div>
      {creating ? <NewModelForm onClose={closeForm} /> : null}
      <div className="toolbar">
        <Field label="Search models" className="field-inline">
          {(props) => (
            <input
              {...props}
              type="search"
              name="search"
              placeholder="Name, description or tag"
              autoComplete="off"
              data-search
              value={typed}
              onChange={(event) => setTyped(event.target.value)}
              onKeyDown={(event) => {
                if (event.key === "Enter") setParams(typed ? { q: typed } : {}, { replace: true });
              }}
            />
          )}
        </Field>
      </div>
      <div className="table-slot" aria-live="polite" aria-busy={models.isFetching}>
        {body}
      </div>
    </div>
  );
}
