// Passkeys (WebAuthn) through `navigator.credentials`: sign-in, the
// second factor (or a sensitive action's confirmation), and registration.
// Warden's API does the server's half; these functions carry the options
// and the browser's answer between the two, base64url-encoding the binary
// fields. A separate entry point so that applications without passkeys do
// not ship it: `import { signInWithPasskey } from "@warden/client/passkeys"`.
import type { PasskeyRegistered, SessionInfo } from "./api.js";
import type { WardenClient } from "./client.js";
import { ReauthenticationRequired } from "./errors.js";

/** Whether this browser can use passkeys at all (a secure context with WebAuthn). */
export function passkeysSupported(): boolean {
  return typeof window !== "undefined" && window.isSecureContext && typeof window.PublicKeyCredential === "function";
}

/** Signs in with a passkey of the account `email`: a full session (the passkey verified its user). */
export async function signInWithPasskey(client: WardenClient, email: string, signal?: AbortSignal): Promise<SessionInfo> {
  const started = await client.request("post", "/api/v1/sign-in/passkey/start", { body: { email } });
  const credential = await get(started.options, signal);
  return client.request("post", "/api/v1/sign-in/passkey/finish", {
    body: { email, ceremony: started.ceremony, credential },
  });
}

/** Proves the second factor with a passkey: completes a partial session, or confirms a sensitive action. */
export async function verifyWithPasskey(client: WardenClient, signal?: AbortSignal): Promise<SessionInfo> {
  const started = await client.request("post", "/api/v1/mfa/passkeys/verify/start");
  const credential = await get(started.options, signal);
  return client.request("post", "/api/v1/mfa/passkeys/verify/finish", {
    body: { ceremony: started.ceremony, credential },
  });
}

/**
 * Registers a new passkey for the signed-in user. Needs a recent strong
 * authentication: catch `ReauthenticationRequired`, confirm, and call its
 * `retry()`, which runs the whole registration again (not only its
 * refused first request).
 */
export async function registerPasskey(client: WardenClient, name?: string, signal?: AbortSignal): Promise<PasskeyRegistered> {
  try {
    return await register(client, name, signal);
  } catch (error) {
    if (error instanceof ReauthenticationRequired) error.retry = () => registerPasskey(client, name, signal);
    throw error;
  }
}

async function register(client: WardenClient, name?: string, signal?: AbortSignal): Promise<PasskeyRegistered> {
  const started = await client.request("post", "/api/v1/mfa/passkeys/register/start");
  const options = structuredClone(started.options) as { publicKey: Record<string, any> };
  const publicKey = options.publicKey;
  publicKey.challenge = decode(publicKey.challenge);
  publicKey.user.id = decode(publicKey.user.id);
  for (const excluded of publicKey.excludeCredentials ?? []) excluded.id = decode(excluded.id);
  const created = (await navigator.credentials.create({ publicKey: publicKey as PublicKeyCredentialCreationOptions, ...(signal ? { signal } : {}) })) as PublicKeyCredential | null;
  if (!created) throw new DOMException("no passkey was created", "NotAllowedError");
  const response = created.response as AuthenticatorAttestationResponse;
  const credential = {
    id: created.id,
    rawId: encode(created.rawId),
    type: created.type,
    response: { attestationObject: encode(response.attestationObject), clientDataJSON: encode(response.clientDataJSON) },
    extensions: created.getClientExtensionResults(),
  };
  return client.request("post", "/api/v1/mfa/passkeys/register/finish", {
    body: { ceremony: started.ceremony, credential, name: name ?? null },
  });
}

async function get(options: object, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const publicKey = structuredClone((options as { publicKey: Record<string, any> }).publicKey);
  publicKey.challenge = decode(publicKey.challenge);
  for (const allowed of publicKey.allowCredentials ?? []) allowed.id = decode(allowed.id);
  const found = (await navigator.credentials.get({ publicKey: publicKey as PublicKeyCredentialRequestOptions, ...(signal ? { signal } : {}) })) as PublicKeyCredential | null;
  if (!found) throw new DOMException("no passkey was chosen", "NotAllowedError");
  const response = found.response as AuthenticatorAssertionResponse;
  return {
    id: found.id,
    rawId: encode(found.rawId),
    type: found.type,
    response: {
      authenticatorData: encode(response.authenticatorData),
      clientDataJSON: encode(response.clientDataJSON),
      signature: encode(response.signature),
      userHandle: response.userHandle ? encode(response.userHandle) : null,
    },
    extensions: found.getClientExtensionResults(),
  };
}

function decode(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function encode(buffer: ArrayBuffer): string {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
