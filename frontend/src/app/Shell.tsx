// The signed-in frame: the login form until there is a session, then the top bar and the current page. A session
// that ends (any 401, or a websocket closed with 4401) brings the login form back on the same URL.

import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router";

import { ApiError, errorMessage, onSessionEnded } from "../api/client";
import { api } from "../api/endpoints";
import { keys } from "../api/keys";
import { useMe } from "../api/queries";
import type { User } from "../api/types";
import { Notice } from "../components/Notice";
import { useToast } from "../components/Toasts";
import { LoginPage } from "../pages/login/LoginPage";
import { paths } from "./paths";
import { UserContext } from "./user";

export function Shell() {
  const me = useMe();
  const client = useQueryClient();
  const [message, setMessage] = useState<string | null>(null);

  const signedOut = useCallback(
    (why: string) => {
      setMessage(why);
      client.setQueryData(keys.me, null);
      // Nothing of the last session stays cached for the next one.
      client.removeQueries({ predicate: (query) => query.queryKey[0] !== keys.me[0] });
    },
    [client],
  );

  useEffect(() => onSessionEnded(() => signedOut("Your session ended. Log in again.")), [signedOut]);

  if (me.isPending) {
    return (
      <main className="login-page">
        <p className="muted" role="status">
          Loading…
        </p>
      </main>
    );
  }
  if (me.isError) {
    return (
      <main className="login-page">
        <Notice kind="error">The console could not reach the API: {errorMessage(me.error)}</Notice>
      </main>
    );
  }
  if (!me.data) {
    return (
      <LoginPage
        message={message}
        onLogin={(user) => {
          setMessage(null);
          client.setQueryData(keys.me, user);
        }}
      />
    );
  }
  return (
    <UserContext.Provider value={me.data}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <TopBar user={me.data} onLoggedOut={() => signedOut("You are logged out.")} />
      <main className="content" id="main" tabIndex={-1}>
        <FocusOnNavigation />
        <Outlet />
      </main>
    </UserContext.Provider>
  );
}

function TopBar({ user, onLoggedOut }: { user: User; onLoggedOut: () => void }) {
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const logOut = async () => {
    setBusy(true);
    try {
      await api.logout();
    } catch (error) {
      // A session that already ended is the outcome we wanted; anything else is worth saying.
      if (!(error instanceof ApiError && error.status === 401)) {
        setBusy(false);
        toast({ kind: "error", key: "logout", message: errorMessage(error) });
        return;
      }
    }
    onLoggedOut();
  };
  const teams = user.teams.map((membership) => `${membership.team} (${membership.role})`).join(", ");
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <NavLink className="brand" to={paths.overview()} aria-label="Raylane: overview">
          <span className="brand-mark" aria-hidden="true" />
          Raylane
        </NavLink>
        <nav className="topnav" aria-label="Main">
          <NavLink to={paths.overview()} end>
            Overview
          </NavLink>
          <NavLink to={paths.models()}>Models</NavLink>
          <NavLink to={paths.tokens()}>API tokens</NavLink>
          <NavLink to={paths.audit()}>Audit log</NavLink>
        </nav>
        <div className="user">
          <span className="user-name" title={teams || (user.is_superuser ? "site admin" : "no team yet")}>
            {user.username}
          </span>
          <button type="button" className="button button-ghost" disabled={busy} onClick={() => void logOut()}>
            Log out
          </button>
        </div>
      </div>
    </header>
  );
}

/**
 * Keyboard and screen-reader users land on the new page's heading after following a link, as after a page load;
 * "/" anywhere outside a form control jumps to the page's search box.
 */
function FocusOnNavigation() {
  const { pathname } = useLocation();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = document.querySelector<HTMLElement>("main h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }, [pathname]);
  useEffect(() => {
    const jump = (event: KeyboardEvent) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement | null;
      if (target?.closest("input, textarea, select, [contenteditable=true], dialog")) return;
      const search = document.querySelector<HTMLInputElement>("[data-search]");
      if (!search) return;
      event.preventDefault();
      search.focus();
      search.select();
    };
    window.addEventListener("keydown", jump);
    return () => window.removeEventListener("keydown", jump);
  }, []);
  return null;
}
