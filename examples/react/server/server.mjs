// The example's backend, in plain Node (no dependencies):
//
// - routes Warden's API (/api/v1/) to Warden, so that the browser sees one
//   origin and Warden's cookie is first-party (in production a reverse
//   proxy does this: docs/guides/integration.md);
// - serves the application's own API, /api/notes, to signed-in users only:
//   every request is checked by Warden's forward authentication, which also
//   checks the CSRF token of state-changing requests; the user comes back
//   in X-Warden-User-Id;
// - serves the built front end (dist/).
//
//   WARDEN_URL=http://127.0.0.1:8080 PORT=3000 node server/server.mjs
//
// With WARDEN_BROWSER_URL set, the front end calls Warden there directly
// (another origin: Warden's `app_origins` must list this one) instead of
// through this server.
//
// With EXAMPLE_RECORD_REQUESTS=1 it also keeps a list of the requests it
// saw (method, path, whether they carried x-csrf-token, status) at
// GET /__requests, for the browser tests.
import { createServer, request as forward } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const warden = new URL(process.env.WARDEN_URL ?? "http://127.0.0.1:8080");
const port = Number(process.env.PORT ?? 3001);
const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const recording = process.env.EXAMPLE_RECORD_REQUESTS === "1";
const browserUrl = process.env.WARDEN_BROWSER_URL;
const seen = [];
const notes = new Map(); // user id -> [{ text, at }]

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };

/** Asks Warden whether this request may go on; answers the identity, or Warden's refusal. */
async function authenticate(req) {
  const headers = { "x-forwarded-method": req.method };
  for (const name of ["cookie", "origin", "x-csrf-token", "user-agent", "sec-fetch-site"]) {
    if (req.headers[name]) headers[name] = req.headers[name];
  }
  const answer = await fetch(new URL("/api/v1/auth/forward", warden), { headers });
  if (answer.ok) return { user: answer.headers.get("x-warden-user-id"), email: answer.headers.get("x-warden-email") };
  return { refusal: { status: answer.status, body: await answer.text() } };
}

async function readBody(req, limit = 16 * 1024) {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw Object.assign(new Error("too large"), { status: 413 });
  }
  return body;
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function notesApi(req, res) {
  const who = await authenticate(req);
  if (who.refusal) {
    // Warden's own answer (401 not signed in, 403 CSRF or second factor):
    // the client turns it into a typed error.
    res.writeHead(who.refusal.status, { "content-type": "application/json" });
    return res.end(who.refusal.body);
  }
  const mine = notes.get(who.user) ?? [];
  if (req.method === "GET") return json(res, 200, { email: who.email, notes: mine });
  if (req.method === "POST") {
    const text = String(JSON.parse((await readBody(req)) || "{}").text ?? "").trim().slice(0, 500);
    if (!text) return json(res, 400, { error: { code: "bad_request", message: "a note needs some text", request_id: "example" } });
    mine.push({ text, at: new Date().toISOString() });
    notes.set(who.user, mine);
    return json(res, 201, { notes: mine });
  }
  return json(res, 405, { error: { code: "method_not_allowed", message: "GET or POST", request_id: "example" } });
}

/** Passes the request to Warden as it is, and Warden's answer back. */
function proxy(req, res) {
  const upstream = forward(
    { host: warden.hostname, port: warden.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", () => json(res, 502, { error: { code: "bad_gateway", message: "Warden is unreachable", request_id: "example" } }));
  req.pipe(upstream);
}

async function statics(req, res) {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
  let file = join(dist, path);
  if (!file.startsWith(dist) || !extname(file)) file = join(dist, "index.html"); // the app's own routes
  try {
    let body = await readFile(file);
    if (browserUrl && file.endsWith("index.html")) {
      const meta = `<meta name="warden-url" content="${browserUrl.replace(/[^\w:/.\-]/g, "")}" />`;
      body = body.toString().replace("<head>", `<head>\n    ${meta}`);
    }
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end("not found");
  }
}

createServer(async (req, res) => {
  if (recording && req.url !== "/__requests") {
    const entry = { method: req.method, path: req.url, csrf: Boolean(req.headers["x-csrf-token"]) };
    res.on("finish", () => seen.push({ ...entry, status: res.statusCode }));
  }
  try {
    if (req.url === "/__requests" && recording) return json(res, 200, seen.splice(0));
    if (req.url.startsWith("/api/v1/") || req.url.startsWith("/.well-known/")) return proxy(req, res);
    if (req.url === "/api/notes") return await notesApi(req, res);
    return await statics(req, res);
  } catch (error) {
    // Malformed input (a bad %-escape, a body that is not JSON) is the client's error.
    const status = error.status ?? (error instanceof URIError || error instanceof SyntaxError ? 400 : 500);
    json(res, status, { error: { code: status === 500 ? "internal" : "bad_request", message: String(error.message), request_id: "example" } });
  }
}).listen(port, "127.0.0.1", () => console.log(`example listening on http://localhost:${port} (Warden: ${warden.origin})`));
