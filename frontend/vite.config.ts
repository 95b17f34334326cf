/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Django serves the built files: index.html for every console path (controlplane/frontend.py) and the assets, whose
// names carry content hashes, as static files under /static/app/ (STATICFILES_DIRS). `npm run dev` proxies the API
// and the websockets to a Django started with `make up`.
const django = process.env.RAYLANE_DJANGO_URL ?? "http://127.0.0.1:8000";

export default defineConfig(({ command }) => ({
  // Built assets live under /static/app/; the dev server serves the app at its root, so routes keep their paths.
  base: command === "build" ? "/static/app/" : "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: false,
    target: "es2022",
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      "/api": { target: django },
      "/ws": { target: django, ws: true },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
}));
