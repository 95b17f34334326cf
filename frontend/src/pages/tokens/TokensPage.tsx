import { type FormEvent, useEffect, useRef, useState } from "react";
import { Link } from "react-router";

import { errorMessage } from "../../api/client";
import { useCreateToken, useRevokeToken, useServerInfo, useTokens } from "../../api/queries";
import type { ApiToken, ApiTokenCreated } from "../../api/types";
import { paths } from "../../app/paths";
import { useConfirm } from "../../components/ConfirmDialog";
import { CopyButton } from "../../components/CopyButton";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { type Column, Table } from "../../components/Table";
import { DateTime } from "../../components/Time";
import { useToast } from "../../components/Toasts";
import { useFormErrors } from "../../components/useFormErrors";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { plural } from "../../lib/format";
import { tokenState } from "./tokenState";

/** Bounds for `expires_in_days`: the server's (GET /api/v1/info/: RAYLANE_TOKEN_DEFAULT_DAYS and _MAX_DAYS); these
 * shipped defaults only until it answers. The server checks them again and answers at the field. */
const MIN_DAYS = 1;
const SHIPPED = { defaultDays: 90, maxDays: 365 };

interface TokenBounds {
  defaultDays: number;
  maxDays: number;
}

const FIELDS = ["name", "expires_in_days"] as const;

/** The key, shown the one time the server sends it, until the reader says it is stored. */
function NewKeyPanel({ token, onDone }: { token: ApiTokenCreated; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="card form-card" aria-labelledby="new-key-title" data-new-key>
      <h2 id="new-key-title" ref={heading} tabIndex={-1}>
        Your new token “{token.name}”
      </h2>
      <Notice kind="info">
        <strong>Store it now: it will not be shown again.</strong> Raylane keeps only its first characters (
        <code>{token.key_prefix}</code>); if you lose the key, revoke this token and create another.
      </Notice>
      <div className="toolbar">
        <Field label="API token key">
          {(props) => (
            <input
              {...props}
              readOnly
              name="key"
              spellCheck={false}
              style={{
                fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
                width: `${token.key.length + 3}ch`,
                maxWidth: "100%",
              }}
              value={token.key}
              onFocus={(event) => event.target.select()}
            />
          )}
        </Field>
        <CopyButton text={token.key} label="the token key" />
      </div>
      <p className="muted small">
        Send it as <code>Authorization: Bearer {token.key_prefix}…</code>. It expires <DateTime iso={token.expires_at} />.
      </p>
      <div className="actions">
        <button type="button" className="button button-primary" onClick={onDone}>
          I have stored it
        </button>
      </div>
    </section>
  );
}

function NewTokenForm({ bounds, onCreated }: { bounds: TokenBounds; onCreated: (token: ApiTokenCreated) => void }) {
  const create = useCreateToken();
  const [name, setName] = useState("");
  const [days, setDays] = useState(String(bounds.defaultDays));
  const { errors, formError, form, clear, show } = useFormErrors(FIELDS);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    clear();
    try {
      const token = await create.mutateAsync({ name: name.trim(), expiresInDays: Number(days) });
      setName("");
      setDays(String(bounds.defaultDays));
      onCreated(token);
    } catch (error) {
      show(error);
    }
  };

  return (
    <form ref={form} className="card form-card" noValidate aria-labelledby="new-token-title" onSubmit={submit}>
      <h2 id="new-token-title">New token</h2>
      {formError ? <Notice kind="error">{formError}</Notice> : null}
      <div className="grid-2">
        <Field label="Token name" hint="What uses it, e.g. “CI pipeline”." errors={errors.name}>
          {(props) => (
            <input
              {...props}
              name="name"
              autoComplete="off"
              maxLength={100}
              required
              value={name}
              onChange={(event) => setName(event.target.value)}
            />
          )}
        </Field>
        <Field
          label="Expires in (days)"
          hint={`From ${MIN_DAYS} to ${bounds.maxDays} days.`}
          errors={errors.expires_in_days}
        >
          {(props) => (
            <input
              {...props}
              type="number"
              name="expires_in_days"
              inputMode="numeric"
              min={MIN_DAYS}
              max={bounds.maxDays}
              step={1}
              required
              value={days}
              onChange={(event) => setDays(event.target.value)}
            />
          )}
        </Field>
      </div>
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}

/** My API tokens: the list, a form that creates one (its key shown once), and revoke with a confirmation. */
export function TokensPage() {
  useDocumentTitle("API tokens");
  const tokens = useTokens();
  const info = useServerInfo();
  const bounds: TokenBounds = info.data
    ? { defaultDays: info.data.token_default_days, maxDays: info.data.token_max_days }
    : SHIPPED;
  const revoke = useRevokeToken();
  const confirm = useConfirm();
  const toast = useToast();
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);

  const askToRevoke = async (token: ApiToken) => {
    const confirmed = await confirm({
      title: `Revoke “${token.name}”?`,
      body: (
        <p>
          Every request that sends the key starting <code>{token.key_prefix}</code> will be refused from now on. This
          cannot be undone.
        </p>
      ),
      confirmLabel: "Revoke token",
      danger: true,
    });
    if (!confirmed) return;
    try {
      await revoke.mutateAsync(token.id);
      if (created?.id === token.id) setCreated(null);
      toast({ kind: "success", key: `token-${token.id}`, message: `Revoked token ${token.name}.` });
    } catch (error) {
      toast({ kind: "error", key: `token-${token.id}`, message: `Could not revoke ${token.name}: ${errorMessage(error)}` });
    }
  };

  const columns: Column<ApiToken>[] = [
    { header: "Name", rowHeader: true, cell: (token) => <span className="strong">{token.name}</span> },
    { header: "Prefix", cell: (token) => <code>{token.key_prefix}…</code> },
    { header: "Created", cell: (token) => <DateTime iso={token.created_at} /> },
    { header: "Expires", cell: (token) => <DateTime iso={token.expires_at} /> },
    {
      header: "Last used",
      cell: (token) => (token.last_used_at ? <DateTime iso={token.last_used_at} /> : <span className="muted">never</span>),
    },
    {
      header: "State",
      cell: (token) => {
        const state = tokenState(token);
        return (
          <span className={`badge ${state.tone}`} title={token.revoked_at ? `Revoked ${token.revoked_at}` : undefined}>
            {state.label}
          </span>
        );
      },
    },
    {
      header: "",
      className: "actions-cell",
      cell: (token) =>
        token.revoked_at ? null : (
          <button
            type="button"
            className="button button-small button-danger"
            aria-label={`Revoke ${token.name}`}
            disabled={revoke.isPending && revoke.variables === token.id}
            onClick={() => void askToRevoke(token)}
          >
            Revoke
          </button>
        ),
    },
  ];

  let body;
  if (tokens.isError) body = <Notice kind="error">{errorMessage(tokens.error)}</Notice>;
  else if (!tokens.data) body = <p className="muted">Loading your tokens…</p>;
  else if (tokens.data.results.length === 0) {
    body = <div className="empty">No tokens yet. Create one above to call the API from a script or CI.</div>;
  } else {
    body = (
      <Table
        caption="Your API tokens"
        columns={columns}
        rows={tokens.data.results}
        rowKey={(token) => token.id}
        rowProps={(token) => ({ "data-token": token.name })}
      />
    );
  }

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>API tokens</h1>
          {tokens.data ? <span className="count">{plural(tokens.data.count, "token")}</span> : null}
        </div>
        <Link to={paths.audit("action=token_create")}>Token history in the audit log</Link>
      </div>
      <p className="muted">
        A token lets a script or CI call the API as you, with your roles. Tokens are created from a signed-in session
        only, never with another token.
      </p>
      {created ? <NewKeyPanel token={created} onDone={() => setCreated(null)} /> : null}
      <NewTokenForm key={bounds.defaultDays} bounds={bounds} onCreated={setCreated} />
      <div className="table-slot" aria-live="polite" aria-busy={tokens.isFetching}>
        {body}
      </div>
    </div>
  );
}
