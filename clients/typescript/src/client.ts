// The browser's side of a Warden session. The session lives in Warden's
// HttpOnly cookie, which this code never sees; the only thing it keeps is
// the session's CSRF token, in memory (never localStorage, sessionStorage
// or a readable cookie), to send on every state-changing request.
import type {
  Answer,
  Method,
  PathParams,
  PathsWith,
  QueryParams,
  RequestBody,
  SessionInfo,
  SessionSummary,
  SignInRequest,
  ChangePasswordRequest,
  Factors,
} from "./api.js";
import { NotSignedIn, ReauthenticationRequired, SecondFactorRequired, WardenError, refusal } from "./errors.js";

export interface WardenClientOptions {
  /**
   * Where Warden's API is: `""` (the default) when it is served on the
   * application's own origin (a reverse proxy routes `/api/v1/` to it), or
   * its origin, e.g. `https://auth.example.com` (then list the
   * application's origin in Warden's `app_origins`).
   */
  baseUrl?: string;
  /** How long `session()` answers from memory, in ms (default 30 s). */
  sessionCacheMs?: number;
  /** Origins besides the page's own and Warden's that may receive the CSRF token from `fetch`. */
  trustedOrigins?: string[];
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

export interface RequestOptions<P extends keyof import("./generated/api.js").paths, M extends Method> {
  params?: PathParams<P, M>;
  query?: QueryParams<P, M>;
  body?: RequestBody<P, M>;
}

type Listener = (session: SessionInfo | null) => void;

const MUTATING = /^(POST|PUT|PATCH|DELETE)$/i;
/** Requests that start a session: they need no token, so none is looked up first. */
const STARTS_A_SESSION = /\/api\/v1\/(sign-in(\/passkey\/(start|finish))?|setup|invitations\/accept)$/;

export class WardenClient {
  readonly #base: string;
  readonly #fetch: typeof fetch;
  readonly #cacheMs: number;
  readonly #origins: Set<string>;
  #csrf: string | null = null;
  #session: SessionInfo | null = null;
  #known = false;
  #fetchedAt = 0;
  #loading: Promise<SessionInfo | null> | null = null;
  readonly #listeners = new Set<Listener>();

  constructor(options: WardenClientOptions = {}) {
    this.#base = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#cacheMs = options.sessionCacheMs ?? 30_000;
    const here = typeof location === "undefined" ? "" : location.origin;
    this.#origins = new Set([here, originOf(this.#base, here), ...(options.trustedOrigins ?? [])]);
  }

  // ---- the session ------------------------------------------------------

  /**
   * Who is signed in, or `null`. Answers from memory for `sessionCacheMs`
   * (concurrent calls share one request); `{ refresh: true }` asks Warden.
   * A sign-in waiting for its second factor is returned as is
   * (`session.pending` set) until it completes.
   */
  async session(options: { refresh?: boolean } = {}): Promise<SessionInfo | null> {
    const fresh = Date.now() - this.#fetchedAt < this.#cacheMs;
    if (this.#known && (this.#session?.session.pending || (!options.refresh && fresh))) return this.#session;
    this.#loading ??= this.#load().finally(() => {
      this.#loading = null;
    });
    return this.#loading;
  }

  async #load(): Promise<SessionInfo | null> {
    try {
      return await this.request("get", "/api/v1/session");
    } catch (error) {
      // A partial session whose CSRF token this page never saw (a reload in
      // the middle of the second-factor step) cannot be completed from
      // here: it is as good as none, and signing in again replaces it.
      if (error instanceof NotSignedIn || error instanceof SecondFactorRequired) {
        this.#set(null);
        return null;
      }
      throw error;
    }
  }

  /** Calls `listener` whenever who is signed in changes; returns the unsubscribe. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Signs in with email and password. The answer may be a partial session
   * (`session.pending.step === "second_factor"`): then ask for one of
   * `session.pending.factors` and call `verifySecondFactor` (or the passkey
   * helper). Refusals: `invalid_credentials` (the same for unknown
   * accounts), `account_disabled`, `RateLimited`.
   */
  signIn(credentials: SignInRequest): Promise<SessionInfo> {
    return this.request("post", "/api/v1/sign-in", { body: credentials });
  }

  /** Proves the second factor (a TOTP code or a backup code): completes a partial session, or confirms a sensitive action. */
  verifySecondFactor(code: string): Promise<SessionInfo> {
    return this.request("post", "/api/v1/mfa/verify", { body: { code } });
  }

  /** Confirms the password before a sensitive action (users without a second factor; others get `use_second_factor`). */
  reauthenticate(password: string): Promise<SessionInfo> {
    return this.request("post", "/api/v1/session/reauthenticate", { body: { password } });
  }

  /** Ends this session. Signed out afterwards even when Warden could not be reached. */
  async signOut(): Promise<void> {
    try {
      if (this.#known && !this.#session) return;
      await this.request("post", "/api/v1/sign-out");
    } catch (error) {
      if (!(error instanceof NotSignedIn)) throw error;
    } finally {
      this.#set(null);
    }
  }

  /** Ends every session of the user on every device, this one last. */
  async signOutEverywhere(): Promise<void> {
    await this.request("post", "/api/v1/sessions/sign-out-others");
    await this.signOut();
  }

  /** Ends every other session of the user; answers how many ended. */
  async signOutOthers(): Promise<number> {
    return (await this.request("post", "/api/v1/sessions/sign-out-others")).revoked;
  }

  /** The user's sessions (`current` marks this one). */
  async sessions(): Promise<SessionSummary[]> {
    return (await this.request("get", "/api/v1/sessions")).sessions;
  }

  /** Ends one session of the user (another device). */
  async revokeSession(id: string): Promise<void> {
    await this.request("delete", "/api/v1/sessions/{id}", { params: { id } });
  }

  /** Changes the password; every other session ends. */
  changePassword(change: ChangePasswordRequest): Promise<SessionInfo> {
    return this.request("put", "/api/v1/password", { body: change });
  }

  /** The user's second factors (never their secrets). */
  factors(): Promise<Factors> {
    return this.request("get", "/api/v1/mfa");
  }

  // ---- Warden's API and the application's -------------------------------

  /**
   * Any operation of Warden's API, typed from its OpenAPI document:
   * `request("delete", "/api/v1/sessions/{id}", { params: { id } })`.
   * Sends the cookie, and the CSRF token on state-changing methods; throws
   * a `WardenError` (or one of its classes) for every refusal.
   */
  async request<M extends Method, P extends PathsWith<M>>(
    method: M,
    path: P,
    options: RequestOptions<P, M> = {},
  ): Promise<Answer<P, M>> {
    let url = this.#base + String(path).replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = (options.params as Record<string, unknown> | undefined)?.[name];
      if (value === undefined) throw new TypeError(`${String(path)}: missing path parameter ${name}`);
      return encodeURIComponent(String(value));
    });
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries((options.query ?? {}) as Record<string, unknown>)) {
      for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined && one !== null) query.append(name, String(one));
    }
    if (query.size > 0) url += `?${query}`;
    const init: RequestInit = { method: method.toUpperCase(), headers: { accept: "application/json" } };
    if (options.body !== undefined) {
      init.headers = { ...init.headers, "content-type": "application/json" };
      init.body = JSON.stringify(options.body);
    }
    const response = await this.#send(url, init);
    const body = await readJson(response);
    if (!response.ok) throw this.#refused(response, body, () => this.request(method, path, options));
    this.#learn(body);
    return body as Answer<P, M>;
  }

  /**
   * `fetch` for the application's own API: sends the cookie (to the
   * page's origin, Warden's and `trustedOrigins`), adds the
   * session's CSRF token to every state-changing request (to the page's
   * origin, Warden's and `trustedOrigins` only), refreshes the token and
   * retries once when Warden rotated it, and throws a `WardenError` when
   * the answer is one of Warden's JSON errors (as forward authentication
   * returns them through the application). Other answers are returned.
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const response = await this.#send(input, init);
    if (response.ok || !(response.headers.get("content-type") ?? "").includes("json")) return response;
    const body = await readJson(response.clone());
    if (!(body as { error?: unknown } | null)?.error) return response;
    throw this.#refused(response, body, () => this.fetch(input, init));
  }

  async #send(input: string | URL, init: RequestInit, retried = false): Promise<Response> {
    const method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers);
    const url = new URL(String(input), typeof location === "undefined" ? "http://localhost" : location.href);
    const ours = this.#origins.has(url.origin);
    if (MUTATING.test(method) && ours) {
      if (!this.#known && !STARTS_A_SESSION.test(url.pathname)) await this.session().catch(() => null);
      if (this.#csrf) headers.set("x-csrf-token", this.#csrf);
    }
    let response: Response;
    try {
      // Cookies go to Warden and the application, not to third parties.
      const credentials = ours ? "include" : (init.credentials ?? "same-origin");
      response = await this.#fetch(input, { ...init, headers, credentials });
    } catch (cause) {
      throw new WardenError(0, "network", `Warden could not be reached: ${String(cause)}`, null);
    }
    if (response.status === 403 && MUTATING.test(method) && ours && !retried && !(init.body instanceof ReadableStream)) {
      const body = await readJson(response.clone());
      if ((body as { error?: { code?: string } } | null)?.error?.code === "csrf_refused") {
        // Warden rotated the token (a second factor, a re-authentication
        // in another tab): learn the current one and try once more.
        await this.session({ refresh: true }).catch(() => null);
        if (this.#csrf) return this.#send(input, init, true);
      }
    }
    return response;
  }

  #refused(response: Response, body: unknown, again: () => Promise<unknown>): WardenError {
    const error = refusal(response.status, body, response.headers);
    if (error instanceof NotSignedIn) this.#set(null);
    if (error instanceof ReauthenticationRequired) error.retry = again;
    return error;
  }

  /** Learns from every answer: a new CSRF token, a new view of the session. */
  #learn(body: unknown): void {
    if (!body || typeof body !== "object") return;
    const answer = body as Partial<SessionInfo>;
    if (typeof answer.csrf_token === "string") this.#csrf = answer.csrf_token;
    if (answer.user && answer.session && answer.csrf_token) this.#set(answer as SessionInfo);
  }

  #set(session: SessionInfo | null): void {
    const before = describe(this.#known ? this.#session : undefined);
    this.#session = session;
    this.#known = true;
    this.#fetchedAt = Date.now();
    if (!session) this.#csrf = null;
    if (describe(session) !== before) for (const listener of [...this.#listeners]) listener(session);
  }
}

/** What a change of which is worth telling listeners about. */
function describe(session: SessionInfo | null | undefined): string {
  if (session === undefined) return "unknown";
  if (session === null) return "none";
  const s = session.session;
  return [session.user.id, s.id, s.pending?.step ?? "", s.assurance.level, session.roles.join()].join("|");
}

function originOf(base: string, here: string): string {
  try {
    return new URL(base || "/", here || "http://localhost").origin;
  } catch {
    return here;
  }
}

async function readJson(response: Response): Promise<unknown> {
  if (response.status === 204 || !(response.headers.get("content-type") ?? "").includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}
