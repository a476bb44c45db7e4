import { WardenClient } from "@warden/client";

// Warden's API is on this origin (/api/v1/, routed by the backend or a
// reverse proxy). For Warden on its own origin, give its URL (at build
// time as VITE_WARDEN_URL, or at run time in <meta name="warden-url">) and
// list this application's origin in Warden's `app_origins`.
const configured = document.querySelector<HTMLMetaElement>('meta[name="warden-url"]')?.content;
export const warden = new WardenClient({ baseUrl: configured ?? import.meta.env.VITE_WARDEN_URL ?? "" });
