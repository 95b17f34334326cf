import { ApiError, api, type User } from "./api";
import { field, h, showNotice } from "./dom";

/** The sign-in card. `onLogin` receives the user the API returns once the session exists. */
export function loginView(onLogin: (user: User) => void, message: string | null = null): HTMLElement {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "button button-primary button-wide" }, "Log in");
  const alertSlot = h("div", { class: "notice-slot" });
  if (message) showNotice(alertSlot, "info", message);

  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-label": "Log in" },
    alertSlot,
    field("Username", username).element,
    field("Password", password).element,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      showNotice(alertSlot, "error", "Enter your username and password.");
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Logging in…";
    try {
      onLogin(await api.login(username.value.trim(), password.value));
    } catch (error) {
      showNotice(alertSlot, "error", error instanceof ApiError ? error.message : String(error));
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "Log in";
    }
  });

  return h(
    "main",
    { class: "login-page" },
    h(
      "section",
      { class: "card login-card", "aria-labelledby": "login-title" },
      h("div", { class: "brand brand-large" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Raylane"),
      h("h1", { id: "login-title" }, "Sign in"),
      h("p", { class: "muted" }, "Deploy and roll out models on Ray Serve."),
      form,
    ),
  );
}
