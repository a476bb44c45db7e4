import { useEffect, useState, type FormEvent } from "react";
import { type ReauthenticationRequired, WardenError } from "@warden/client";
import { passkeysSupported, verifyWithPasskey } from "@warden/client/passkeys";
import { ErrorNote } from "./ErrorNote";
import { warden } from "./warden";

/**
 * A sensitive action was refused for want of a recent strong
 * authentication: the user confirms (a second factor when they have one,
 * else the password), and the action runs again.
 */
export function Confirm({ refused, onDone }: { refused: ReauthenticationRequired; onDone: (result: unknown) => void }) {
  const [factors, setFactors] = useState<string[] | null>(null);
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    warden.factors().then((found) => setFactors(found.second_factors), setError);
  }, []);

  const confirmed = async (proof: () => Promise<unknown>) => {
    setError(null);
    try {
      await proof();
      onDone(await refused.retry());
    } catch (caught) {
      setError(caught);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const codes = factors?.some((factor) => factor !== "passkey");
    void confirmed(() => (codes ? warden.verifySecondFactor(secret) : warden.reauthenticate(secret)));
  };
  if (!factors) return <ErrorNote error={error} />;
  const codes = factors.some((factor) => factor !== "passkey");
  const passkeyOnly = factors.length > 0 && !codes;
  return (
    <section className="card confirm" aria-label="Confirm it's you">
      <h2>Confirm it's you</h2>
      {!passkeyOnly && (
        <form onSubmit={submit}>
          <label>
            {codes ? "Code from your authenticator app, or a backup code" : "Your password"}
            <input name="confirm" type={codes ? "text" : "password"} required value={secret} onChange={(e) => setSecret(e.target.value)} />
          </label>
          <button type="submit">Confirm</button>
        </form>
      )}
      {factors.includes("passkey") && passkeysSupported() && (
        <button className="secondary" onClick={() => confirmed(() => verifyWithPasskey(warden))}>
          Confirm with a passkey
        </button>
      )}
      <ErrorNote error={error instanceof WardenError || error instanceof Error ? error : null} />
    </section>
  );
}
