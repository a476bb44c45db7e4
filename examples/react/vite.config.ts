import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev`: Vite serves the app and passes every /api request to the
// example's backend (server/server.mjs, on EXAMPLE_BACKEND or :3001),
// which routes Warden's API (/api/v1/) to Warden: one origin for the
// browser, so Warden's cookie is first-party.
export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/api": process.env.EXAMPLE_BACKEND ?? "http://localhost:3001" } },
});
