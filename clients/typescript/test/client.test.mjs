// The client's own rules, without a browser or a server: a fake `fetch`
// answers as Warden does and records what the client sent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NotSignedIn, ReauthenticationRequired, WardenClient, WardenError } from "../dist/index.js";

const WARDEN = "https://auth.example.com";
const session = (token, pending = null) => ({
  user: { id: "u1", email: "ada@example.com", display_name: "Ada" },
  org: { id: "o1" },
  roles: ["member"],
  session: { id: "s1", created_at: "", expires_at: "", idle_expires_at: "", assurance: { level: "aal1", methods: [], at: "" }, pending },
  csrf_token: token,
});
const json = (status, body, headers = {}) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const refused = (status, code) => json(status, { error: { code, message: code.replace(/_/g, " "), request_id: "r-1" } });

/** A client whose `fetch` is `answer(request)`; `sent` lists what it sent. */
function client(answer, options = {}) {
  const sent = [];
  const fetch = async (input, init) => {
    const request = { url: String(input), method: init.method ?? "GET", headers: new Headers(init.headers), credentials: init.credentials };
    sent.push(request);
    return answer(request, sent.length);
  };
  return { warden: new WardenClient({ baseUrl: WARDEN, fetch, ...options }), sent };
}

test("session() asks once, then answers from memory; refresh asks again", async () => {
  const { warden, sent } = client(() => json(200, session("t1")));
  const [a, b] = await Promise.all([warden.session(), warden.session()]);
  assert.equal(a.user.id, "u1");
  assert.equal(a, b);
  await warden.session();
  assert.equal(sent.length, 1, "concurrent and cached calls share one request");
  await warden.session({ refresh: true });
  assert.equal(sent.length, 2);
});

test("the CSRF token goes on mutations to Warden, never on reads, never to a third party", async () => {
  const { warden, sent } = client((request) => (request.url.endsWith("/api/v1/session") ? json(200, session("t1")) : json(200, {})));
  await warden.session();
  await warden.fetch(`${WARDEN}/api/v1/anything`, { method: "POST" });
  await warden.fetch(`${WARDEN}/api/v1/anything`);
  await warden.fetch("https://third-party.example.net/collect", { method: "POST" });
  const [, post, get, foreign] = sent;
  assert.equal(post.headers.get("x-csrf-token"), "t1");
  assert.equal(post.credentials, "include");
  assert.equal(get.headers.get("x-csrf-token"), null);
  assert.equal(foreign.headers.get("x-csrf-token"), null, "no token to another site");
  assert.equal(foreign.credentials, "same-origin", "no cookies to another site");
});

test("a token named in trustedOrigins goes there too", async () => {
  const { warden, sent } = client(() => json(200, session("t1")), { trustedOrigins: ["https://api.example.com"] });
  await warden.session();
  await warden.fetch("https://api.example.com/notes", { method: "DELETE" });
  assert.equal(sent[1].headers.get("x-csrf-token"), "t1");
});

test("a rotated token: csrf_refused, the current token fetched, the request sent once more", async () => {
  let token = "t1";
  const { warden, sent } = client((request, n) => {
    if (request.url.endsWith("/api/v1/session")) return json(200, session(token));
    if (request.headers.get("x-csrf-token") !== token) return refused(403, "csrf_refused");
    return json(201, { ok: n });
  });
  await warden.session();
  token = "t2"; // rotated elsewhere
  const answer = await warden.fetch(`${WARDEN}/notes`, { method: "POST", body: "{}" });
  assert.equal(answer.status, 201);
  assert.deepEqual(
    sent.map((r) => `${r.method} ${new URL(r.url).pathname} ${r.headers.get("x-csrf-token") ?? "-"}`),
    ["GET /api/v1/session -", "POST /notes t1", "GET /api/v1/session -", "POST /notes t2"],
  );
});

test("a refusal that persists is not retried twice", async () => {
  const { warden, sent } = client((request) =>
    request.url.endsWith("/api/v1/session") ? json(200, session("t1")) : refused(403, "csrf_refused"),
  );
  await warden.session();
  await assert.rejects(warden.fetch(`${WARDEN}/notes`, { method: "POST" }), (error) => error.code === "csrf_refused");
  assert.equal(sent.filter((r) => r.method === "POST").length, 2);
});

test("401 session_required signs out and tells listeners; a wrong code or password ends nothing", async () => {
  let reply = json(200, session("t1"));
  const { warden } = client(() => reply);
  const seen = [];
  warden.onChange((current) => seen.push(current && current.user.id));
  await warden.session();
  reply = refused(401, "invalid_code");
  await assert.rejects(warden.verifySecondFactor("000000"), (error) => error instanceof WardenError && !(error instanceof NotSignedIn));
  assert.equal((await warden.session()).user.id, "u1", "still signed in");
  reply = refused(401, "session_required");
  await assert.rejects(warden.fetch(`${WARDEN}/notes`), (error) => error instanceof NotSignedIn && error.requestId === "r-1");
  assert.equal(await warden.session(), null);
  assert.deepEqual(seen, ["u1", null]);
});

test("reauthentication_required carries a retry of the refused request", async () => {
  let recent = false;
  const { warden } = client((request) => {
    if (request.url.endsWith("/api/v1/session")) return json(200, session("t1"));
    if (request.url.endsWith("/reauthenticate")) {
      recent = true;
      return json(200, session("t2"));
    }
    return recent ? new Response(null, { status: 204 }) : refused(403, "reauthentication_required");
  });
  await warden.session();
  const error = await warden.revokeSession("s9").catch((caught) => caught);
  assert.ok(error instanceof ReauthenticationRequired);
  await warden.reauthenticate("pw");
  await error.retry();
});

test("a partial sign-in is kept until its second factor completes it", async () => {
  const { warden, sent } = client((request) =>
    request.url.endsWith("/sign-in") ? json(200, session("p1", { step: "second_factor", factors: ["totp"] })) : json(200, session("t2")),
  );
  const partial = await warden.signIn({ email: "ada@example.com", password: "pw" });
  assert.equal(partial.session.pending.step, "second_factor");
  assert.deepEqual(sent.map((r) => new URL(r.url).pathname), ["/api/v1/sign-in"], "a sign-in needs no token looked up first");
  assert.equal((await warden.session({ refresh: true })).session.pending.step, "second_factor", "no GET that would answer 403");
  await warden.verifySecondFactor("123456");
  assert.equal(sent[1].headers.get("x-csrf-token"), "p1", "the partial session's token completes it");
  assert.equal((await warden.session()).session.pending, null);
});

test("429 says how long to wait; an answer that is not Warden's JSON still has a status and code", async () => {
  let reply = refused(429, "too_many_requests");
  reply.headers.set("retry-after", "17");
  const { warden } = client(() => reply);
  const limited = await warden.signIn({ email: "a", password: "b" }).catch((caught) => caught);
  assert.equal(limited.retryAfterSeconds, 17);
  reply = new Response("<html>bad gateway</html>", { status: 502, headers: { "content-type": "text/html", "x-request-id": "r-9" } });
  const gateway = await warden.signIn({ email: "a", password: "b" }).catch((caught) => caught);
  assert.equal(gateway.status, 502);
  assert.equal(gateway.code, "http_502");
  assert.equal(gateway.requestId, "r-9");
});
