import { useState, type FormEvent } from "react";
import type { SessionInfo } from "@warden/client";
import { passkeysSupported, signInWithPasskey, verifyWithPasskey } from "@warden/client/passkeys";
import { ErrorNote } from "./ErrorNote";
import { warden } from "./warden";

/**
 * Sign-in: email and password, or a passkey; then the second factor when
 * Warden asks for one (`session.pending`). Signed in, the client's
 * `onChange` tells the app, which shows the page that was asked for.
 */
export function LoginPage({ partial, notice }: { partial: SessionInfo | null; notice: string | null }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { attempt, busy, error } = useAttempt();

  if (partial?.session.pending?.step === "second_factor") {
    return <SecondFactor factors={partial.session.pending.factors} />;
  }
  if (partial?.session.pending?.step === "enrolment") {
    return (
      <main className="card">
        <h1>Set up a second factor</h1>
        <p>Your organization requires a second factor. Set one up in Warden's settings, then come back.</p>
        <button onClick={() => warden.signOut()}>Back to sign-in</button>
      </main>
    );
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void attempt(() => warden.signIn({ email, password }));
  };

  return (
    <main className="card">
      <h1>Sign in</h1>
      {notice && <p className="notice" role="status">{notice}</p>}
      <form onSubmit={submit}>
        <label>
          Email
          <input name="email" type="email" autoComplete="username webauthn" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
      {passkeysSupported() && (
        <button className="secondary" disabled={busy || !email} onClick={() => attempt(() => signInWithPasskey(warden, email))}>
          Sign in with a passkey
        </button>
      )}
      <ErrorNote error={error} />
    </main>
  );
}

/** The second step of a sign-in: a code from the authenticator app, a backup code, or a passkey. */
function SecondFactor({ factors }: { factors: string[] }) {
  const [code, setCode] = useState("");
  const { attempt, busy, error } = useAttempt(() => setCode(""));
  const codes = factors.includes("totp") || factors.includes("backup_code");
  return (
    <main className="card">
      <h1>Confirm it's you</h1>
      {codes && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void attempt(() => warden.verifySecondFactor(code));
          }}
        >
          <label>
            Code from your authenticator app, or a backup code
            <input name="code" inputMode="numeric" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} />
          </label>
          <button type="submit" disabled={busy}>Verify</button>
        </form>
      )}
      {factors.includes("passkey") && passkeysSupported() && (
        <button className="secondary" disabled={busy} onClick={() => attempt(() => verifyWithPasskey(warden))}>
          Use a passkey
        </button>
      )}
      <button className="link" onClick={() => warden.signOut()}>
        Cancel
      </button>
      <ErrorNote error={error} />
    </main>
  );
}

/** One attempt at a time: busy while it runs, its refusal kept to show. */
function useAttempt(onRefused?: () => void) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const attempt = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (caught) {
      setError(caught);
      onRefused?.();
    } finally {
      setBusy(false);
    }
  };
  return { attempt, busy, error };
}
