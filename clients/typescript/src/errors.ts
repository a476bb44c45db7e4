// Warden's JSON errors as typed errors. Every answer that is not a success
// becomes a `WardenError` carrying the HTTP status, Warden's machine code
// (`invalid_credentials`, `second_factor_required`, …, see docs/api.md),
// its message and the request id to quote in a support ticket. The codes an
// application must act on have their own classes.

/** Any refusal by Warden (or by the network on the way to it). */
export class WardenError extends Error {
  override readonly name: string = "WardenError";
  constructor(
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number,
    /** Warden's error code, e.g. `invalid_credentials`. */
    readonly code: string,
    message: string,
    /** The request id (`x-request-id`), to find the request in Warden's logs and audit trail. */
    readonly requestId: string | null,
    /** Seconds to wait before trying again (429 with `Retry-After`). */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

/**
 * 401 `session_required`: no session, or it ended (expired, signed out,
 * revoked elsewhere). Other 401s (a wrong password or code) are plain
 * `WardenError`s: they end nothing.
 */
export class NotSignedIn extends WardenError {
  override readonly name = "NotSignedIn";
}

/** 403 `second_factor_required`: the sign-in still needs its second factor. */
export class SecondFactorRequired extends WardenError {
  override readonly name = "SecondFactorRequired";
}

/**
 * 403 `reauthentication_required`: a sensitive action needs a recent strong
 * authentication. Confirm it (`reauthenticate({ password })`,
 * `verifySecondFactor(code)` or a passkey), then `retry()` the action.
 */
export class ReauthenticationRequired extends WardenError {
  override readonly name = "ReauthenticationRequired";
  /** Runs the refused request again; call it once the user confirmed. */
  retry: () => Promise<unknown> = () => Promise.reject(this);
}

/** 429: too many attempts; `retryAfterSeconds` says how long to wait. */
export class RateLimited extends WardenError {
  override readonly name = "RateLimited";
}

/** Builds the error for a refused answer from its status and JSON body. */
export function refusal(status: number, body: unknown, headers: Headers): WardenError {
  const error = (body as { error?: { code?: unknown; message?: unknown; request_id?: unknown } } | null)?.error;
  const code = typeof error?.code === "string" ? error.code : `http_${status}`;
  const message = typeof error?.message === "string" ? error.message : `Warden answered ${status}`;
  const requestId = typeof error?.request_id === "string" ? error.request_id : headers.get("x-request-id");
  const retryAfter = Number.parseInt(headers.get("retry-after") ?? "", 10);
  const wait = Number.isFinite(retryAfter) ? retryAfter : null;
  if (status === 401 && (code === "session_required" || code === "http_401")) return new NotSignedIn(status, code, message, requestId, wait);
  if (status === 429) return new RateLimited(status, code, message, requestId, wait);
  if (code === "second_factor_required") return new SecondFactorRequired(status, code, message, requestId, wait);
  if (code === "reauthentication_required") return new ReauthenticationRequired(status, code, message, requestId, wait);
  return new WardenError(status, code, message, requestId, wait);
}
