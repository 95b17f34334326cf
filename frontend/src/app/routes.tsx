// The console's pages, one route each, with real paths (the history API). Django serves index.html for any path
// that is not the API's, the admin's, a static file's, /metrics or a websocket's (controlplane/frontend.py).

import type { RouteObject } from "react-router";

import { AuditPage } from "../pages/audit/AuditPage";
import { DeploymentPage } from "../pages/deployment/DeploymentPage";
import { ModelPage } from "../pages/model/ModelPage";
import { ModelsPage } from "../pages/models/ModelsPage";
import { NotFoundPage } from "../pages/NotFoundPage";
import { OverviewPage } from "../pages/overview/OverviewPage";
import { TokensPage } from "../pages/tokens/TokensPage";
import { Shell } from "./Shell";

export const routes: RouteObject[] = [
  {
    element: <Shell />,
    children: [
      { index: true, element: <OverviewPage /> },
      { path: "models", element: <ModelsPage /> },
      { path: "models/:name", element: <ModelPage /> },
      { path: "deployments/:id", element: <DeploymentPage /> },
      { path: "tokens", element: <TokensPage /> },
      { path: "audit", element: <AuditPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];
