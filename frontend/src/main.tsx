// Entry point: mounts the app under the i18n provider. Loaded as /static/assets/*.js by the
// index.html Django serves (no inline script: the app's CSP forbids it).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { I18nProvider } from "./i18n/I18nContext";
import "./styles.css";
import "./theme.css";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <I18nProvider>
        <App />
      </I18nProvider>
    </StrictMode>,
  );
}
