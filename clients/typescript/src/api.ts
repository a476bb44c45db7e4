// The typed view of Warden's HTTP API, derived from the generated OpenAPI
// types (src/generated/api.ts): which paths take which method, what they
// take and what they answer. A path, field or type the API changes breaks
// the build of every caller.
import type { components, paths } from "./generated/api.js";

export type Schemas = components["schemas"];
export type Method = "get" | "post" | "put" | "patch" | "delete";

type Operation<P extends keyof paths, M extends Method> = paths[P][M];

/** The paths of Warden's API that take method `M`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: Operation<P, M> extends { responses: unknown } ? P : never;
}[keyof paths];

type Json<T> = T extends { content: { "application/json": infer Body } } ? Body : undefined;

/** What `M path` takes as its JSON body (`undefined`: no body). */
export type RequestBody<P extends keyof paths, M extends Method> = Json<
  NonNullable<Operation<P, M> extends { requestBody?: infer Body } ? Body : undefined>
>;

/** What `M path` answers on success (`undefined`: no body). */
export type Answer<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: infer R }
    ? R extends { 200: infer Ok }
      ? Json<Ok>
      : R extends { 201: infer Created }
        ? Json<Created>
        : R extends { 202: infer Accepted }
          ? Json<Accepted>
          : undefined
    : never;

/** The path parameters of `M path` (`{id}` and the like). */
export type PathParams<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { parameters: { path?: infer Params } }
    ? [Params] extends [undefined | never]
      ? Record<string, never>
      : NonNullable<Params>
    : Record<string, never>;

/** The query parameters of `M path`. */
export type QueryParams<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { parameters: { query?: infer Query } } ? NonNullable<Query> : Record<string, never>;

export type SessionInfo = Schemas["SessionInfo"];
export type SessionSummary = Schemas["SessionSummary"];
export type Pending = Schemas["Pending"];
export type Factors = Schemas["Factors"];
export type SecondFactor = Pending["factors"][number];
export type Role = SessionInfo["roles"][number];
export type ErrorBody = Schemas["Error"];
export type SignInRequest = Schemas["SignIn"];
export type ChangePasswordRequest = Schemas["ChangePassword"];
export type PasskeyChallenge = Schemas["PasskeyChallenge"];
export type PasskeyRegistered = Schemas["PasskeyRegistered"];
