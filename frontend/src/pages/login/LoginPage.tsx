import { type FormEvent, useRef, useState } from "react";

import { ApiError, errorMessage } from "../../api/client";
import { api } from "../../api/endpoints";
import type { User } from "../../api/types";
import { Field } from "../../components/Field";
import { Notice } from "../../components/Notice";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** The sign-in card, shown at whatever console URL the reader opened: once signed in, they are on that page. */
export function LoginPage({ message, onLogin }: { message: string | null; onLogin: (user: User) => void }) {
  useDocumentTitle("Sign in");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const usernameInput = useRef<HTMLInputElement>(null);
  const passwordInput = useRef<HTMLInputElement>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!username.trim() || !password) {
      setError("Enter your username and password.");
      (username.trim() ? passwordInput : usernameInput).current?.focus();
      return;
    }
    setBusy(true);
    try {
      onLogin(await api.login(username.trim(), password));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : errorMessage(failure));
      setBusy(false);
      passwordInput.current?.select();
      passwordInput.current?.focus();
    }
  };

  return (
    <main className="login-page">
      <section className="card login-card" aria-labelledby="login-title">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Raylane
        </div>
        <h1 id="login-title">Sign in</h1>
        <p className="muted">Deploy and roll out models on Ray Serve.</p>
        <form className="stack" noValidate aria-label="Log in" onSubmit={submit}>
          {error ? <Notice kind="error">{error}</Notice> : message ? <Notice kind="info">{message}</Notice> : null}
          <Field label="Username">
            {(props) => (
              <input
                {...props}
                ref={usernameInput}
                name="username"
                autoComplete="username"
                required
                autoFocus
                value={username}
                onChange={(event) => setUsername(event.target.value)}
              />
            )}
          </Field>
          <Field label="Password">
            {(props) => (
              <input
                {...props}
                ref={passwordInput}
                name="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(event) => setPassword(event.target.value)}
              />
            )}
          </Field>
          <button type="submit" className="button button-primary button-wide" disabled={busy}>
            {busy ? "Logging in…" : "Log in"}
          </button>
        </form>
      </section>
    </main>
  );
}
