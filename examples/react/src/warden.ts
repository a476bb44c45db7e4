import { WardenClient } from "@warden/client";

// Warden's API is on this origin (/api/v1/, routed by the backend or a
// reverse proxy). For Warden on its own origin, pass its URL here and list
// this application's origin in Warden's `app_origins`.
export const warden = new WardenClient({ baseUrl: import.meta.env.VITE_WARDEN_URL ?? "" });
