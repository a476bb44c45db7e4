import { useEffect, useRef, useState, type ReactNode } from "react";
import type { SessionInfo } from "@warden/client";
import { LoginPage } from "./LoginPage";
import { Notes, Security, Sessions } from "./pages";
import { useSession } from "./useSession";
import { warden } from "./warden";

/** Signs out on purpose (no "your session has ended" afterwards). */
type SigningOut = (work: () => Promise<void>) => void;

const routes: Record<string, { title: string; page: (signingOut: SigningOut) => ReactNode }> = {
  "/": { title: "Notes", page: () => <Notes /> },
  "/sessions": { title: "Your devices", page: (signingOut) => <Sessions signingOut={signingOut} /> },
  "/security": { title: "Security", page: () => <Security /> },
};

/** The path of the page, kept in the address bar (a router in a dozen lines). */
function usePath(): [string, (to: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const back = () => setPath(location.pathname);
    addEventListener("popstate", back);
    return () => removeEventListener("popstate", back);
  }, []);
  return [path, (to) => {
    history.pushState(null, "", to);
    setPath(to);
  }];
}

/**
 * Every route is protected: until someone is signed in, each shows the
 * sign-in, and after it the page that was asked for. A session that ends
 * on its own (expired, signed out on another device) brings the sign-in
 * back with a word of why.
 */
export function App() {
  const session = useSession();
  const [path, navigate] = usePath();
  const notice = useEndedNotice(session);
  if (session === undefined) return <p className="loading">Loading…</p>;
  if (!session || session.session.pending) return <LoginPage partial={session} notice={notice.text} />;
  const route = routes[path] ?? routes["/"]!;
  return (
    <>
      <header>
        <nav aria-label="Main">
          {Object.entries(routes).map(([to, { title }]) => (
            <a key={to} href={to} aria-current={to === path ? "page" : undefined} onClick={(event) => {
              event.preventDefault();
              navigate(to);
            }}>
              {title}
            </a>
          ))}
        </nav>
        <span className="who">
          Signed in as <strong data-testid="who">{session.user.display_name}</strong> ({session.session.assurance.level})
        </span>
        <button onClick={() => notice.signingOut(() => warden.signOut())}>Sign out</button>
      </header>
      <main>
        <h1>{route.title}</h1>
        {route.page(notice.signingOut)}
      </main>
    </>
  );
}

/** "Your session ended" when a session goes away without the user signing out here. */
function useEndedNotice(session: SessionInfo | null | undefined) {
  const [text, setText] = useState<string | null>(null);
  const leaving = useRef(false);
  const had = useRef(false);
  useEffect(() => {
    if (session && !session.session.pending) {
      had.current = true;
      setText(null);
    } else if (session === null && had.current) {
      had.current = false;
      if (!leaving.current) setText("Your session has ended (it expired, or you were signed out on another device). Sign in again.");
      leaving.current = false;
    }
  }, [session]);
  return {
    text,
    signingOut: ((work) => {
      leaving.current = true;
      work().catch(() => {
        leaving.current = false;
      });
    }) as SigningOut,
  };
}
