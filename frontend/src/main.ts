import "./style.css";

import { ApiError, api, type User, whenSessionEnds } from "./api";
import { deploymentPage } from "./deployment";
import { h, notice, replace } from "./dom";
import { loginView } from "./login";
import { modelPage } from "./model";
import { modelsPage } from "./models";
import { currentRoute, onNavigate } from "./router";

const root = document.querySelector<HTMLElement>("#app")!;
let user: User | null = null;
/** What the current page must stop when the reader leaves it (the live page's sockets and timers). */
let leavePage: (() => void) | null = null;

function leave(): void {
  leavePage?.();
  leavePage = null;
}

function showLogin(message: string | null = null): void {
  leave();
  user = null;
  document.title = "Sign in · Raylane";
  replace(
    root,
    loginView((loggedIn) => {
      user = loggedIn;
      showApp();
    }, message),
  );
  root.querySelector<HTMLInputElement>("input")?.focus();
}

function topBar(current: User): HTMLElement {
  const logout = h("button", { type: "button", class: "button button-ghost" }, "Log out");
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try {
      await api.logout();
    } catch (error) {
      // A session that already ended is the outcome we wanted; anything else is worth saying.
      if (!(error instanceof ApiError && error.status === 401)) {
        logout.disabled = false;
        window.alert(error instanceof Error ? error.message : String(error));
        return;
      }
    }
    showLogin("You are logged out.");
  });
  const teams = current.teams.map((m) => `${m.team} (${m.role})`).join(", ");
  return h(
    "header",
    { class: "topbar" },
    h(
      "div",
      { class: "topbar-inner" },
      h("a", { class: "brand", href: "#/models" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Raylane"),
      h("nav", { class: "topnav", "aria-label": "Main" }, h("a", { href: "#/models", "aria-current": "page" }, "Models")),
      h(
        "div",
        { class: "user" },
        h(
          "span",
          { class: "user-name", title: teams || (current.is_superuser ? "site admin" : "no team yet") },
          current.username,
        ),
        logout,
      ),
    ),
  );
}

function showApp(): void {
  if (user === null) return showLogin();
  const main = h("main", { class: "content", id: "main" });
  replace(root, h("a", { class: "skip-link", href: "#main" }, "Skip to content"), topBar(user), main);
  renderRoute(main, user);
}

function renderRoute(main: HTMLElement, current: User): void {
  leave();
  const route = currentRoute();
  if (route.page === "deployment") {
    document.title = `Deployment ${route.id} · Raylane`;
    const live = deploymentPage(current, route.id);
    leavePage = live.dispose;
    replace(main, live.element);
  } else if (route.page === "model") {
    document.title = `${route.name} · Raylane`;
    replace(main, modelPage(current, route.name));
  } else if (route.page === "models") {
    document.title = "Models · Raylane";
    replace(main, modelsPage(current));
  } else {
    document.title = "Not found · Raylane";
    replace(
      main,
      h("h1", {}, "Not found"),
      notice("error", h("span", {}, `Nothing at ${route.path}. `, h("a", { href: "#/models" }, "See all models."))),
    );
  }
}

async function boot(): Promise<void> {
  whenSessionEnds(() => showLogin("Your session ended. Log in again."));
  onNavigate(() => {
    if (user !== null) showApp();
  });
  try {
    user = await api.me();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return showLogin();
    replace(
      root,
      h(
        "main",
        { class: "login-page" },
        notice("error", `The console could not reach the API: ${error instanceof Error ? error.message : error}`),
      ),
    );
    return;
  }
  showApp();
}

void boot();
