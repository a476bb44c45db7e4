// Warden's passkey pages: the browser's half of the WebAuthn ceremonies.
// Buttons with data-passkey="register" | "sign-in" | "verify" start one;
// the server's JSON API does the rest (see docs/api.md). No framework, no
// third-party code: the page's CSP allows only this file.
"use strict";
(() => {
  const decode = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : null;
  };
  const post = async (path, body) => {
    const headers = { "content-type": "application/json" };
    if (csrf()) headers["x-csrf-token"] = csrf();
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin", headers, body: JSON.stringify(body),
    });
    const answer = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      throw new Error(answer && answer.error ? answer.error.message : response.statusText);
    }
    return answer;
  };
  const creation = (options) => {
    const publicKey = structuredClone(options.publicKey);
    publicKey.challenge = decode(publicKey.challenge);
    publicKey.user.id = decode(publicKey.user.id);
    (publicKey.excludeCredentials || []).forEach((c) => { c.id = decode(c.id); });
    return { publicKey };
  };
  const request = (options) => {
    const publicKey = structuredClone(options.publicKey);
    publicKey.challenge = decode(publicKey.challenge);
    (publicKey.allowCredentials || []).forEach((c) => { c.id = decode(c.id); });
    return { publicKey };
  };
  const registration = (credential) => ({
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: encode(credential.response.attestationObject),
      clientDataJSON: encode(credential.response.clientDataJSON),
    },
    extensions: credential.getClientExtensionResults(),
  });
  const assertion = (credential) => ({
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: encode(credential.response.authenticatorData),
      clientDataJSON: encode(credential.response.clientDataJSON),
      signature: encode(credential.response.signature),
      userHandle: credential.response.userHandle ? encode(credential.response.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults(),
  });
  const show = (message) => {
    const box = document.getElementById("passkey-error");
    if (box) { box.textContent = message; box.hidden = false; }
  };
  const next = (button) => button.dataset.next || "/settings/sessions";

  const ceremonies = {
    async register(button) {
      const name = document.getElementById("passkey-name");
      const started = await post("/api/v1/mfa/passkeys/register/start", {});
      const credential = await navigator.credentials.create(creation(started.options));
      const done = await post("/api/v1/mfa/passkeys/register/finish", {
        ceremony: started.ceremony,
        credential: registration(credential),
        name: name && name.value ? name.value : "Passkey",
      });
      if (done.csrf_token) {
        // This passkey completed a sign-in that waited for it: new token.
        document.querySelectorAll('input[name="csrf_token"]').forEach((input) => { input.value = done.csrf_token; });
        const meta = document.querySelector('meta[name="csrf-token"]');
        if (meta) meta.content = done.csrf_token;
      }
      if (done.backup_codes) {
        // The first second factor comes with backup codes, shown once.
        const section = document.getElementById("passkey-backup-codes");
        const list = section.querySelector("ol");
        done.backup_codes.codes.forEach((code) => {
          const item = document.createElement("li");
          const text = document.createElement("code");
          text.textContent = code;
          item.appendChild(text);
          list.appendChild(item);
        });
        section.querySelector('input[name="set"]').value = done.backup_codes.set;
        section.hidden = false;
        button.disabled = true;
        return;
      }
      window.location.assign("/settings/mfa?notice=passkey_added");
    },
    async "sign-in"(button) {
      const email = document.getElementById("email").value;
      if (!email) { show("Type your email first."); return; }
      const started = await post("/api/v1/sign-in/passkey/start", { email });
      const credential = await navigator.credentials.get(request(started.options));
      await post("/api/v1/sign-in/passkey/finish", {
        email, ceremony: started.ceremony, credential: assertion(credential),
      });
      window.location.assign(next(button));
    },
    async verify(button) {
      const started = await post("/api/v1/mfa/passkeys/verify/start", {});
      const credential = await navigator.credentials.get(request(started.options));
      const done = await post("/api/v1/mfa/passkeys/verify/finish", {
        ceremony: started.ceremony, credential: assertion(credential),
      });
      // A form was waiting for this confirmation: show it, to finish.
      const pending = document.getElementById("pending-form");
      if (pending) {
        if (done && done.csrf_token) pending.querySelector('input[name="csrf_token"]').value = done.csrf_token;
        pending.submit();
        return;
      }
      window.location.assign(next(button));
    },
  };

  document.querySelectorAll("[data-passkey]").forEach((button) => {
    if (!window.PublicKeyCredential) { button.hidden = true; return; }
    button.hidden = false;
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      try {
        await ceremonies[button.dataset.passkey](button);
      } catch (error) {
        show(error.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : error.message);
      }
    });
  });
})();
