import { useEffect, useState } from "react";
import type { SessionInfo } from "@warden/client";
import { warden } from "./warden";

/** Who is signed in (`undefined` while it is not known yet), kept current by the client. */
export function useSession(): SessionInfo | null | undefined {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  useEffect(() => {
    const stop = warden.onChange(setSession);
    warden.session().then(setSession, () => setSession(null));
    return stop;
  }, []);
  return session;
}
