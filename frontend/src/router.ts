// Client-side routes live in the URL's hash (#/models, #/models/iris, #/deployments/3), so Django serves one page
// at / and reloading or sharing a link keeps the place.

export type Route =
  | { page: "models" }
  | { page: "model"; name: string }
  | { page: "deployment"; id: number }
  | { page: "missing"; path: string };

export function currentRoute(): Route {
  const path = window.location.hash.replace(/^#/, "") || "/models";
  if (path === "/" || path === "/models" || path === "/models/") return { page: "models" };
  const match = /^\/models\/([^/]+)\/?$/.exec(path);
  if (match) return { page: "model", name: decodeURIComponent(match[1]) };
  const deployment = /^\/deployments\/(\d+)\/?$/.exec(path);
  if (deployment) return { page: "deployment", id: Number(deployment[1]) };
  return { page: "missing", path };
}

let pendingFlash: string | null = null;
let rerender: () => void = () => undefined;

export function onNavigate(render: () => void): void {
  rerender = render;
  window.addEventListener("hashchange", () => render());
}

/** Go to `hash`, optionally carrying a success message to show on the next page. */
export function navigate(hash: string, flash: string | null = null): void {
  pendingFlash = flash;
  if (window.location.hash === hash) rerender();
  else window.location.hash = hash;
}

/** The message left by the last `navigate`, once. */
export function takeFlash(): string | null {
  const flash = pendingFlash;
  pendingFlash = null;
  return flash;
}
