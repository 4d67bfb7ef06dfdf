// The console's MTA-STS and TLS-RPT calls (webmail/adminconsole/mtasts.py), typed from the
// generated OpenAPI schema.
import { apiFetch, type Schemas } from "../../api/client";

export type MtaSts = Schemas["AdminMtaSts"];
export type MtaStsUpdate = Schemas["AdminMtaStsUpdateRequest"];
export type TlsReport = Schemas["AdminTlsReport"];

const enc = encodeURIComponent;
const base = (name: string): string => `/api/v1/admin/domains/${enc(name)}`;

export const mtastsApi = {
  policy: (name: string, signal?: AbortSignal) =>
    apiFetch<MtaSts>("GET", `${base(name)}/mta-sts`, signal ? { signal } : {}),
  setPolicy: (name: string, body: MtaStsUpdate) => apiFetch<MtaSts>("PUT", `${base(name)}/mta-sts`, { body }),
  reports: (name: string, signal?: AbortSignal) =>
    apiFetch<Schemas["AdminTlsReportList"]>("GET", `${base(name)}/tls-reports`, signal ? { signal } : {}),
};
