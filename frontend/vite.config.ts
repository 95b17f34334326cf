import { defineConfig } from "vite";

// Django serves the built files: index.html at / (controlplane/frontend.py) and the assets as static files under
// /static/app/ (STATICFILES_DIRS). `npm run dev` proxies the API and the websockets to a Django started with `make up`.
const django = process.env.RAYLANE_DJANGO_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/static/app/",
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
});
