// The stack the browser tests run against, all real: a Warden node on its
// embedded profile (the binary the workspace built), the example's backend
// (server/server.mjs) in front of it serving the built app, and users made
// through Warden's own API.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const example = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = resolve(example, "../..");

/** The warden binary: WARDEN_BIN, else the workspace's debug build. */
export function wardenBin() {
  const candidates = [
    process.env.WARDEN_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, "debug/warden"),
    join(repo, "target/debug/warden"),
  ].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`no warden binary (tried ${candidates.join(", ")}): build it with cargo build --bin warden, or set WARDEN_BIN`);
  return found;
}

export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
    server.on("error", fail);
  });
}

/** Waits until `output()` matches `pattern`; answers the match. */
async function waitFor(output, pattern, what, child) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const match = output().match(pattern);
    if (match) return match;
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${output()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start:\n${output()}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
}

function start(command, args, env, what) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (err += chunk));
  return { child, out: () => out, err: () => err, what };
}

/** A Warden session driven from Node (cookie and CSRF token kept by hand). */
export class Api {
  constructor(base) {
    this.base = base;
    this.cookie = null;
    this.csrf = null;
  }

  async call(method, path, body) {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf && method !== "GET") headers["x-csrf-token"] = this.csrf;
    const response = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      if (pair.startsWith("warden_session=")) this.cookie = pair.endsWith("=") ? null : pair;
    }
    const answer = (response.headers.get("content-type") ?? "").includes("json") ? await response.json() : null;
    if (answer?.csrf_token) this.csrf = answer.csrf_token;
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  }
}

/** The TOTP code of `secret` (base32) for `step` (RFC 6238, SHA-1). */
export function totp(secret, step, digits = 6) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(value).padStart(digits, "0");
}

export const PASSWORD = "lantern-orchard-quiver-8841";

/**
 * Starts Warden and the example's backend; sets the instance up with an
 * owner. `env` adds Warden settings (e.g. a short idle timeout). With
 * `crossOrigin`, browsers call Warden on its own origin (the app's is in
 * its `app_origins`); otherwise through the example's backend.
 */
export async function startStack(env = {}, { crossOrigin = false } = {}) {
  const data = mkdtempSync(join(tmpdir(), "warden-example-"));
  const appPort = await freePort();
  const app = `http://localhost:${appPort}`;
  const wardenPort = crossOrigin ? await freePort() : 0;
  const own = crossOrigin ? { WARDEN_PUBLIC_URL: `http://localhost:${wardenPort}`, WARDEN_APP_ORIGINS: app } : { WARDEN_PUBLIC_URL: app };
  const warden = start(
    wardenBin(),
    ["serve", "--listen", `127.0.0.1:${wardenPort}`],
    {
      WARDEN_DATA_DIR: data,
      ...own,
      WARDEN_PASSWORD_MEMORY_KIB: "8192",
      WARDEN_PASSWORD_ITERATIONS: "1",
      WARDEN_LOG: "info",
      ...env,
    },
    "warden",
  );
  const [, address] = await waitFor(() => warden.err(), /listening on http:\/\/(\S+?)(\s|\u001b)/, "warden", warden.child);
  const wardenUrl = `http://${address}`;
  const [, token] = await waitFor(() => warden.out(), /\/setup\?token=(\S+)/, "warden's setup link", warden.child);
  const backend = start(
    process.execPath,
    [join(example, "server/server.mjs")],
    {
      WARDEN_URL: wardenUrl,
      PORT: String(appPort),
      EXAMPLE_RECORD_REQUESTS: "1",
      ...(crossOrigin ? { WARDEN_BROWSER_URL: own.WARDEN_PUBLIC_URL } : {}),
    },
    "example backend",
  );
  await waitFor(() => backend.out(), /example listening/, "example backend", backend.child);

  const owner = new Api(wardenUrl);
  await owner.call("POST", "/api/v1/setup", {
    token,
    org_name: "Example Org",
    org_slug: "example",
    email: "owner@example.test",
    display_name: "Olive Owner",
    password: PASSWORD,
  });

  return {
    app,
    wardenUrl,
    browserWardenUrl: own.WARDEN_PUBLIC_URL,
    owner,
    /** A member with a password (and nothing else). */
    async user(name) {
      const email = `${name.toLowerCase()}@example.test`;
      await owner.call("POST", "/api/v1/users", { email, display_name: name, role: "member", password: PASSWORD });
      return { email, name };
    },
    /**
     * A member with an authenticator app. `code()` answers the code of the
     * step after the last one used (each step works once, one ahead is
     * accepted: call it once per sign-in, or wait 30 s); `backupCode()` one
     * of the ten backup codes.
     */
    async totpUser(name) {
      const user = await this.user(name);
      const api = new Api(wardenUrl);
      await api.call("POST", "/api/v1/sign-in", { email: user.email, password: PASSWORD });
      const setup = await api.call("POST", "/api/v1/mfa/totp");
      let step = Math.floor(Date.now() / 1000 / setup.period_seconds);
      const confirmed = await api.call("POST", "/api/v1/mfa/totp/confirm", { code: totp(setup.secret, step, setup.digits) });
      const backupCodes = [...confirmed.backup_codes.codes];
      await api.call("POST", "/api/v1/sign-out");
      // Each time step works once, and one step ahead is accepted.
      const near = () => [-1, 0, 1, 2].map((d) => totp(setup.secret, Math.floor(Date.now() / 1000 / setup.period_seconds) + d, setup.digits));
      return {
        ...user,
        code: () => totp(setup.secret, ++step, setup.digits),
        backupCode: () => backupCodes.shift(),
        /** A code no nearby time step has. */
        wrongCode: () => ["000000", "111111", "222222", "333333", "444444"].find((code) => !near().includes(code)),
      };
    },
    /** The requests the example's backend saw since the last call. */
    async requests() {
      return (await fetch(`${app}/__requests`)).json();
    },
    async stop() {
      backend.child.kill("SIGKILL");
      const exited = new Promise((done) => (warden.child.exitCode !== null ? done() : warden.child.once("exit", done)));
      warden.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((wake) => setTimeout(wake, 10_000))]);
      rmSync(data, { recursive: true, force: true });
    },
    logs: () => `--- warden\n${warden.err()}\n--- backend\n${backend.out()}${backend.err()}`,
  };
}
