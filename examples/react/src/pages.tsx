import { useEffect, useRef, useState, type FormEvent } from "react";
import { ReauthenticationRequired, type SessionSummary } from "@warden/client";
import { passkeysSupported, registerPasskey } from "@warden/client/passkeys";
import { Confirm } from "./Confirm";
import { ErrorNote } from "./ErrorNote";
import { warden } from "./warden";

interface Note {
  text: string;
  at: string;
}

/** The application's own API (/api/notes), which its backend protects through Warden. */
export function Notes() {
  const [notes, setNotes] = useState<Note[] | null>(null);
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  // Only the answer to the latest request is shown: a slow load must not
  // overwrite the list a later addition returned.
  const latest = useRef(0);
  const show = (request: number, found: Note[]) => {
    if (request === latest.current) setNotes(found);
  };
  const load = async () => {
    const request = ++latest.current;
    setError(null);
    try {
      const answer = await warden.fetch("/api/notes");
      show(request, (await answer.json()).notes);
    } catch (caught) {
      setError(caught);
    }
  };
  useEffect(() => void load(), []);
  const add = async (event: FormEvent) => {
    event.preventDefault();
    const request = ++latest.current;
    setError(null);
    try {
      const answer = await warden.fetch("/api/notes", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
      });
      if (!answer.ok) throw new Error(`the notes service answered ${answer.status}`);
      show(request, (await answer.json()).notes);
      setText("");
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <>
      <form onSubmit={add} className="inline">
        <input name="note" aria-label="New note" required value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">Add</button>
        <button type="button" className="secondary" onClick={() => void load()}>
          Refresh
        </button>
      </form>
      <ErrorNote error={error} />
      {notes && notes.length === 0 && <p className="empty">No notes yet.</p>}
      <ul className="notes">
        {notes?.map((note) => (
          <li key={note.at + note.text}>{note.text}</li>
        ))}
      </ul>
    </>
  );
}

/** The user's sessions on every device, with sign-out for each, the others, or all. */
export function Sessions({ signingOut }: { signingOut: (work: () => Promise<void>) => void }) {
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      setSessions(await warden.sessions());
    } catch (caught) {
      setError(caught);
    }
  };
  useEffect(() => void run(async () => undefined), []);
  return (
    <>
      <ErrorNote error={error} />
      <table>
        <thead>
          <tr><th>Device</th><th>Address</th><th>Last used</th><th /></tr>
        </thead>
        <tbody>
          {sessions?.map((session) => (
            <tr key={session.id} data-current={session.current}>
              <td>{session.device.browser} on {session.device.os}</td>
              <td>{session.ip ?? "unknown"}</td>
              <td>{new Date(session.last_seen_at).toLocaleString()}</td>
              <td>
                {session.current ? <span className="badge">This device</span> : (
                  <button className="secondary" onClick={() => run(() => warden.revokeSession(session.id))}>Sign out</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="actions">
        <button className="secondary" onClick={() => run(() => warden.signOutOthers())}>Sign out other devices</button>
        <button className="danger" onClick={() => signingOut(() => warden.signOutEverywhere().catch((caught) => {
          setError(caught);
          throw caught;
        }))}>Sign out everywhere</button>
      </p>
    </>
  );
}

/** Passkeys and the password: sensitive actions, confirmed first when the last strong sign-in is not recent. */
export function Security() {
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [refused, setRefused] = useState<ReauthenticationRequired | null>(null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const act = async (work: () => Promise<unknown>, done: string) => {
    setError(null);
    setMessage(null);
    try {
      await work();
      setMessage(done);
    } catch (caught) {
      if (caught instanceof ReauthenticationRequired) {
        setRefused(caught);
        return;
      }
      setError(caught);
    }
  };
  const change = (event: FormEvent) => {
    event.preventDefault();
    void act(() => warden.changePassword({ current_password: current, new_password: next }), "Password changed. Your other devices were signed out.").then(() => {
      setCurrent("");
      setNext("");
    });
  };
  return (
    <>
      {message && <p className="notice" role="status">{message}</p>}
      <ErrorNote error={error} />
      {refused && (
        <Confirm
          refused={refused}
          onDone={() => {
            setRefused(null);
            setMessage("Done.");
          }}
        />
      )}
      <section>
        <h2>Passkeys</h2>
        {passkeysSupported() ? (
          <button onClick={() => act(() => registerPasskey(warden, "Example app passkey"), "Passkey added.")}>Add a passkey</button>
        ) : (
          <p>This browser cannot use passkeys here.</p>
        )}
      </section>
      <section>
        <h2>Password</h2>
        <form onSubmit={change}>
          <label>
            Current password
            <input name="current-password" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
          </label>
          <label>
            New password
            <input name="new-password" type="password" autoComplete="new-password" minLength={12} required value={next} onChange={(e) => setNext(e.target.value)} />
          </label>
          <button type="submit">Change password</button>
        </form>
      </section>
    </>
  );
}
