import { WardenError } from "@warden/client";

/** A refusal as the user should see it: Warden's message, and the request id for support. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  if (error instanceof WardenError) {
    const wait = error.retryAfterSeconds ? ` Try again in ${error.retryAfterSeconds} s.` : "";
    return (
      <p role="alert" className="error" data-code={error.code}>
        {error.message}.{wait} <small>Request {error.requestId ?? "unknown"}</small>
      </p>
    );
  }
  return (
    <p role="alert" className="error">
      {error instanceof Error ? error.message : String(error)}
    </p>
  );
}
