import "./style.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./app/App";

// Links from the console's first versions put the route in the hash (/#/models/iris): keep them working, whether
// they open the console or are followed inside it (then the router hears of the new path as of a Back).
function followHashRoute(): boolean {
  if (!window.location.hash.startsWith("#/")) return false;
  window.history.replaceState(null, "", window.location.hash.slice(1));
  return true;
}
followHashRoute();
window.addEventListener("hashchange", () => {
  if (followHashRoute()) window.dispatchEvent(new PopStateEvent("popstate"));
});

createRoot(document.getElementById("app")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
