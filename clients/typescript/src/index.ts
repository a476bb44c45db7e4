// @warden/client: Warden's cookie sessions from the browser. Passkey
// helpers are a separate entry point, `@warden/client/passkeys`.
export { WardenClient } from "./client.js";
export type { WardenClientOptions, RequestOptions } from "./client.js";
export { WardenError, NotSignedIn, SecondFactorRequired, ReauthenticationRequired, RateLimited } from "./errors.js";
export type {
  Answer,
  ErrorBody,
  Factors,
  Method,
  PathsWith,
  Pending,
  RequestBody,
  Role,
  Schemas,
  SecondFactor,
  SessionInfo,
  SessionSummary,
} from "./api.js";
