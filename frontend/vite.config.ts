// Vite builds into dist/; Django serves dist/index.html for every app path and the assets
// under /static/ through whitenoise (webmail/settings.py adds dist/ to STATICFILES_DIRS).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import react from "@vitejs/plugin-react";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

// Precompressed copies (file.br, file.gz) of every text asset, made once at build time with
// the strongest settings; whitenoise serves them by Accept-Encoding (issue 12 defect 8).
const COMPRESSIBLE = /\.(js|css|html|svg|json|txt|map)$/;
function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "mailroom-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string): void => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          if (statSync(path).isDirectory()) walk(path);
          else if (COMPRESSIBLE.test(name) && statSync(path).size >= 1024) {
            const data = readFileSync(path);
            writeFileSync(`${path}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
            writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
          }
        }
      };
      walk(outDir);
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
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
