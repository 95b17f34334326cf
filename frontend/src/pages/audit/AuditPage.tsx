import { type FormEvent, useState } from "react";
import { useSearchParams } from "react-router";

import { errorMessage } from "../../api/client";
import { useAudit } from "../../api/queries";
import type { AuditAction, AuditEntry } from "../../api/types";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { type Column, Table } from "../../components/Table";
import { DateTime } from "../../components/Time";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { plural } from "../../lib/format";
import { changeLines } from "./changes";
import {
  ACTION_LABELS,
  type FilterName,
  type Filters,
  PAGE_SIZE,
  apiQuery,
  filtersFrom,
  pageFrom,
  urlQuery,
} from "./filters";

function Changes({ entry }: { entry: AuditEntry }) {
  const lines = changeLines(entry.changes);
  if (lines.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="audit-changes" style={{ listStyle: "none", margin: 0, padding: 0 }}>
      {lines.map((line, index) => (
        <li key={index}>
          {line.field ? <span className="muted">{line.field}: </span> : null}
          {line.from !== undefined ? (
            <>
              <span>{line.from}</span> → <span className="strong">{line.to}</span>
            </>
          ) : (
            <span>{line.to}</span>
          )}
        </li>
      ))}
    </ul>
  );
}

const COLUMNS: Column<AuditEntry>[] = [
  { header: "Time", rowHeader: true, cell: (entry) => <DateTime iso={entry.at} /> },
  {
    header: "Actor",
    cell: (entry) => entry.actor_username || <span className="muted">system</span>,
    cellProps: () => ({ "data-column": "actor" }),
  },
  {
    header: "Action",
    cell: (entry) => ACTION_LABELS[entry.action as AuditAction] ?? entry.action,
    cellProps: (entry) => ({ "data-action": entry.action }),
  },
  {
    header: "Object",
    cell: (entry) => (
      <>
        {entry.target_repr || <span className="muted">—</span>}
        {entry.target_type ? <div className="muted small">{entry.target_type}</div> : null}
      </>
    ),
  },
  { header: "Team", cell: (entry) => entry.team_slug || <span className="muted">—</span> },
  { header: "Changes", cell: (entry) => <Changes entry={entry} /> },
];

/** The audit log: filters (actor, action, object, team, time) and page kept in the URL, newest first. */
export function AuditPage() {
  useDocumentTitle("Audit log");
  const [params, setParams] = useSearchParams();
  const applied = filtersFrom(params);
  const page = pageFrom(params);
  const entries = useAudit(apiQuery(params));
  // The form's values: applied on submit, so each keystroke does not fetch a page.
  const [draft, setDraft] = useState<Filters>(applied);
  const [shownFor, setShownFor] = useState(params.toString());
  if (shownFor !== params.toString()) {
    // Back, forward or a link changed the URL: the form follows it.
    setShownFor(params.toString());
    setDraft(applied);
  }

  const set = (name: FilterName) => (event: { target: { value: string } }) =>
    setDraft((current) => ({ ...current, [name]: event.target.value }));
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setParams(urlQuery(draft));
  };
  const filtered = Object.values(applied).some(Boolean);
  const pages = entries.data ? Math.max(1, Math.ceil(entries.data.count / PAGE_SIZE)) : 1;
  const goTo = (target: number) => setParams(urlQuery(applied, target));

  let body;
  if (entries.isError) body = <Notice kind="error">{errorMessage(entries.error)}</Notice>;
  else if (!entries.data) body = <p className="muted">Loading the audit log…</p>;
  else if (entries.data.results.length === 0) {
    body = (
      <div className="empty">
        {filtered ? "No entry matches these filters." : "Nothing recorded yet: entries appear as people act."}
      </div>
    );
  } else {
    body = <Table caption="Audit log" columns={COLUMNS} rows={entries.data.results} rowKey={(entry) => entry.id} />;
  }

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Audit log</h1>
          {entries.data ? <span className="count">{plural(entries.data.count, "entry", "entries")}</span> : null}
        </div>
      </div>
      <form className="card form-card" aria-label="Filter the audit log" onSubmit={apply}>
        <div className="grid-2">
          <Field label="Actor" hint="A username.">
            {(props) => <input {...props} name="actor" autoComplete="off" value={draft.actor} onChange={set("actor")} />}
          </Field>
          <Field label="Action">
            {(props) => (
              <select {...props} name="action" value={draft.action} onChange={set("action")}>
                <option value="">Any action</option>
                {Object.entries(ACTION_LABELS).map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Object" hint="Part of the object's name, or of the actor's.">
            {(props) => (
              <input {...props} type="search" name="search" autoComplete="off" data-search value={draft.search} onChange={set("search")} />
            )}
          </Field>
          <Field label="Object type" hint="As the log names it, e.g. accounts.apitoken or registry.model.">
            {(props) => (
              <input {...props} name="target_type" autoComplete="off" value={draft.target_type} onChange={set("target_type")} />
            )}
          </Field>
          <Field label="Team" hint="A team's slug.">
            {(props) => <input {...props} name="team" autoComplete="off" value={draft.team} onChange={set("team")} />}
          </Field>
          <div />
          <Field label="From" hint="Your local time.">
            {(props) => <input {...props} type="datetime-local" name="since" value={draft.since} onChange={set("since")} />}
          </Field>
          <Field label="Until" hint="Your local time; entries before it.">
            {(props) => <input {...props} type="datetime-local" name="until" value={draft.until} onChange={set("until")} />}
          </Field>
        </div>
        <div className="actions">
          <button type="submit" className="button button-primary">
            Apply filters
          </button>
          {filtered ? (
            <button type="button" className="button" onClick={() => setParams(new URLSearchParams())}>
              Clear filters
            </button>
          ) : null}
        </div>
      </form>
      <div className="table-slot" aria-live="polite" aria-busy={entries.isFetching}>
        {body}
      </div>
      {entries.data && entries.data.count > PAGE_SIZE ? (
        <nav className="actions" aria-label="Audit log pages">
          <button type="button" className="button" disabled={page <= 1} onClick={() => goTo(page - 1)}>
            Previous page
          </button>
          <span className="muted" aria-current="page">
            Page {page} of {pages}
          </span>
          <button type="button" className="button" disabled={!entries.data.next} onClick={() => goTo(page + 1)}>
            Next page
          </button>
        </nav>
      ) : null}
    </div>
  );
}
