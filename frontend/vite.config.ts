// Vite builds into dist/; Django serves dist/index.html for every app path and the assets
// under /static/ through whitenoise (webmail/settings.py adds dist/ to STATICFILES_DIRS).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  base: "/static/",
  // frontend/static/ holds the placeholder page's CSS, served by Django, not by Vite.
  publicDir: false,
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    // The app's own CSP has no 'unsafe-inline': never inline a script or a data: module.
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` against `make run` on :8000; same-origin for the session and CSRF cookies.
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    setupFiles: ["src/test/setup.ts"],
  },
});
