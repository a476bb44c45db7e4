// The example app in headless Chromium (Debian's, driven by playwright-core)
// against a real Warden: every way to sign in, signing out, what reaches
// the server, what stays in the browser, and a session that ends on its own.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { PASSWORD, startStack } from "./stack.mjs";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// Before a session exists there is no token to send: these start one.
const BEFORE_A_SESSION = new Set(["/api/v1/sign-in", "/api/v1/sign-in/passkey/start", "/api/v1/sign-in/passkey/finish"]);

function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

let opened = [];

/**
 * A test whose failure says what the pages showed and what the server saw
 * (headless runs leave nothing else to look at).
 */
function scenario(name, body) {
  test(name, async () => {
    opened = [];
    try {
      await body();
    } catch (error) {
      const shown = [];
      for (const { page, stack } of opened) {
        const text = await page.locator("body").innerText({ timeout: 2_000 }).catch(() => "(closed)");
        const seen = await stack.requests().catch(() => []);
        shown.push(`page ${page.url()}:\n${text}\nrequests since the last look: ${JSON.stringify(seen)}`);
      }
      error.message += `\n--- what the browser showed\n${shown.join("\n")}`;
      throw error;
    }
  });
}

/** Warden, the example and a browser for one block of tests: started before them, stopped after. */
function running(env = {}, options = {}) {
  const on = {};
  before(async () => {
    on.stack = await startStack(env, options);
    on.browser = await launch();
  });
  after(async () => {
    await on.browser?.close();
    await on.stack?.stop();
  });
  return on;
}

/** A fresh browser profile on the app; page errors fail the test. */
async function open({ browser, stack }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  opened.push({ page, stack });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));
  await page.goto(stack.app);
  return { context, page, errors };
}

/** A WebAuthn virtual authenticator (a platform passkey that verifies its user) on `page`. */
async function authenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

async function signIn(page, email, password = PASSWORD) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function signedInAs(page, name) {
  await page.getByTestId("who").filter({ hasText: name }).waitFor();
}

/** What the page could read or keep: storage of every kind, readable cookies. */
function browserState(page) {
  return page.evaluate(async () => ({
    local: Object.keys(localStorage),
    session: Object.keys(sessionStorage),
    cookie: document.cookie,
    databases: (await indexedDB.databases()).map((db) => db.name),
    caches: await caches.keys(),
  }));
}

function assertCsrfDiscipline(requests) {
  const mutations = requests.filter((r) => MUTATING.has(r.method));
  assert.ok(mutations.length > 0, "no mutation was seen");
  for (const request of requests) {
    if (MUTATING.has(request.method) && !BEFORE_A_SESSION.has(request.path)) {
      assert.ok(request.csrf, `${request.method} ${request.path} went without x-csrf-token`);
    } else if (!MUTATING.has(request.method)) {
      assert.ok(!request.csrf, `${request.method} ${request.path} carried x-csrf-token`);
    }
  }
}

describe("the example app against a real Warden", () => {
  const on = running();

  scenario("password sign-in, the app's own API, sign-out: the CSRF token on every mutation and no read, nothing kept in the browser", async () => {
    const ada = await on.stack.user("Ada");
    const { context, page, errors } = await open(on);
    await on.stack.requests(); // only what follows
    await signIn(page, ada.email);
    await signedInAs(page, "Ada");
    await page.getByText("No notes yet.").waitFor();

    await page.getByLabel("New note").fill("buy lanterns");
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByRole("listitem").filter({ hasText: "buy lanterns" }).waitFor();

    await page.getByRole("link", { name: "Your devices" }).click();
    await page.getByText("This device").waitFor();

    // The session is in an HttpOnly cookie the page cannot read, and
    // nothing else is kept anywhere.
    const state = await browserState(page);
    assert.deepEqual(state, { local: [], session: [], cookie: "", databases: [], caches: [] });
    const [cookie] = (await context.cookies()).filter((c) => c.name === "warden_session");
    assert.ok(cookie?.httpOnly, "the session cookie is HttpOnly");
    assert.equal(cookie.sameSite, "Lax");

    await page.getByRole("button", { name: "Sign out", exact: true }).first().click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.getByRole("status").count(), 0, "a sign-out of one's own is no ended session");
    assert.deepEqual(await browserState(page), { local: [], session: [], cookie: "", databases: [], caches: [] });

    const requests = await on.stack.requests();
    const seen = requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.ok(seen.includes("POST /api/v1/sign-in 200"), seen.join("\n"));
    assert.ok(seen.includes("POST /api/notes 201"), seen.join("\n"));
    assert.ok(seen.includes("GET /api/v1/sessions 200"), seen.join("\n"));
    assert.ok(seen.includes("POST /api/v1/sign-out 204"), seen.join("\n"));
    assertCsrfDiscipline(requests);

    // Signed out means signed out: the app's API refuses the old cookie.
    await page.reload();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  scenario("a wrong password is refused with Warden's message and the request id", async () => {
    const bea = await on.stack.user("Bea");
    const { context, page } = await open(on);
    await signIn(page, bea.email, "not-her-password-at-all");
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.equal(await alert.getAttribute("data-code"), "invalid_credentials");
    assert.match(await alert.innerText(), /Request [0-9a-f-]{8,}/);
    // The same answer for an account that does not exist.
    await signIn(page, "nobody@example.test", "not-her-password-at-all");
    await page.getByRole("alert").filter({ hasText: /Request/ }).waitFor();
    assert.equal(await page.getByRole("alert").getAttribute("data-code"), "invalid_credentials");
    await context.close();
  });

  scenario("TOTP: the password leads to the second step, a wrong code is refused, the right one signs in", async () => {
    const tom = await on.stack.totpUser("Tom");
    const { context, page, errors } = await open(on);
    await signIn(page, tom.email);
    await page.getByRole("heading", { name: "Confirm it's you" }).waitFor();
    const code = page.getByLabel("Code from your authenticator app, or a backup code");
    await code.fill(tom.wrongCode());
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("alert").waitFor();
    assert.equal(await page.getByRole("alert").getAttribute("data-code"), "invalid_code");
    await code.fill(tom.code());
    await page.getByRole("button", { name: "Verify" }).click();
    await signedInAs(page, "Tom");
    assert.match(await page.locator(".who").innerText(), /aal2/);
    // The completed session works on the app's API (a new cookie and CSRF token).
    await page.getByLabel("New note").fill("second factor done");
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByRole("listitem").filter({ hasText: "second factor done" }).waitFor();
    assertCsrfDiscipline(await on.stack.requests());
    assert.deepEqual(errors, []);
    await context.close();
  });

  scenario("passkey: added after a password sign-in, then signing in with it alone", async () => {
    const pia = await on.stack.user("Pia");
    const { context, page, errors } = await open(on);
    const { cdp, authenticatorId } = await authenticator(context, page);
    await signIn(page, pia.email);
    await signedInAs(page, "Pia");
    await page.getByRole("link", { name: "Security" }).click();
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await page.getByText("Passkey added.").waitFor();
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    assert.equal(credentials.length, 1);

    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByLabel("Email").fill(pia.email);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await signedInAs(page, "Pia");
    assert.match(await page.locator(".who").innerText(), /aal2/, "a passkey sign-in is a strong one");
    const after = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
    assert.ok(after[0].signCount > credentials[0].signCount, "the passkey signed the sign-in");
    assertCsrfDiscipline(await on.stack.requests());
    assert.deepEqual(errors, []);
    await context.close();
  });

  scenario("signed out everywhere from another device: the app notices and says why", async () => {
    const cai = await on.stack.user("Cai");
    const laptop = await open(on);
    const phone = await open(on);
    await signIn(laptop.page, cai.email);
    await signedInAs(laptop.page, "Cai");
    await signIn(phone.page, cai.email);
    await signedInAs(phone.page, "Cai");

    await phone.page.getByRole("link", { name: "Your devices" }).click();
    await phone.page.getByRole("button", { name: "Sign out everywhere" }).click();
    await phone.page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await phone.page.getByRole("status").count(), 0, "who signed out everywhere is not told the session ended");

    await laptop.page.getByRole("button", { name: "Refresh" }).click();
    await laptop.page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.match(await laptop.page.getByRole("status").innerText(), /session has ended/);
    assertCsrfDiscipline(await on.stack.requests());
    assert.deepEqual([...laptop.errors, ...phone.errors], []);
    await laptop.context.close();
    await phone.context.close();
  });

  scenario("a CSRF token that Warden rotated in another tab is refreshed and the request goes through", async () => {
    const dan = await on.stack.user("Dan");
    const { context, page, errors } = await open(on);
    await signIn(page, dan.email);
    await signedInAs(page, "Dan");
    const other = await context.newPage();
    await other.goto(`${on.stack.app}/security`);
    await signedInAs(other, "Dan");
    await other.getByLabel("Current password").fill(PASSWORD);
    await other.getByLabel("New password").fill("harbour-saffron-kettle-5127");
    await other.getByRole("button", { name: "Change password" }).click();
    await other.getByText("Password changed.").waitFor();
    await on.stack.requests();

    // The first tab still holds the old token: the client learns the new one.
    await page.getByLabel("New note").fill("after the rotation");
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByRole("listitem").filter({ hasText: "after the rotation" }).waitFor();
    const seen = (await on.stack.requests()).map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.deepEqual(seen, ["POST /api/notes 403", "GET /api/v1/session 200", "POST /api/notes 201"]);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe("a session that expires", () => {
  const on = running({ WARDEN_SESSION_IDLE_TIMEOUT_SECONDS: "2" });

  scenario("the client notices on its next request and the app asks to sign in again", async () => {
    const eve = await on.stack.user("Eve");
    const { context, page, errors } = await open(on);
    await signIn(page, eve.email);
    await signedInAs(page, "Eve");
    await page.waitForTimeout(3_000);
    await page.getByLabel("New note").fill("too late");
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.match(await page.getByRole("status").innerText(), /session has ended/);
    const seen = (await on.stack.requests()).filter((r) => r.path === "/api/notes" && r.method === "POST");
    assert.deepEqual(seen.map((r) => r.status), [401], "Warden refused the expired session");
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe("a sign-in that is no longer recent", () => {
  const on = running({ WARDEN_STEP_UP_MAX_AGE_SECONDS: "2" });

  scenario("a sensitive action asks to confirm it's you, then goes through with one retry", async () => {
    const uma = await on.stack.totpUser("Uma");
    const { context, page, errors } = await open(on);
    const { cdp, authenticatorId } = await authenticator(context, page);
    await signIn(page, uma.email);
    await page.getByLabel("Code from your authenticator app, or a backup code").fill(uma.code());
    await page.getByRole("button", { name: "Verify" }).click();
    await signedInAs(page, "Uma");
    await page.getByRole("link", { name: "Security" }).click();
    await page.waitForTimeout(2_500);
    await on.stack.requests();

    await page.getByRole("button", { name: "Add a passkey" }).click();
    const confirm = page.getByRole("region", { name: "Confirm it's you" });
    // A backup code: the authenticator's next step is not due yet.
    await confirm.getByLabel("Code from your authenticator app, or a backup code").fill(uma.backupCode());
    await confirm.getByRole("button", { name: "Confirm" }).click();
    await page.getByText("Done.").waitFor();
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    assert.equal(credentials.length, 1, "the passkey was registered by the retried action");

    const seen = (await on.stack.requests()).map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.deepEqual(seen, [
      "POST /api/v1/mfa/passkeys/register/start 403",
      "GET /api/v1/mfa 200",
      "POST /api/v1/mfa/verify 200",
      "POST /api/v1/mfa/passkeys/register/start 200",
      "POST /api/v1/mfa/passkeys/register/finish 201",
    ]);
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe("Warden on another origin", () => {
  const on = running({}, { crossOrigin: true });

  scenario("the client calls Warden across origins with CORS and credentials; the app's API still gets the token", async () => {
    const fay = await on.stack.user("Fay");
    const { context, page, errors } = await open(on);
    const toWarden = [];
    page.on("request", (request) => {
      if (request.url().startsWith(on.stack.browserWardenUrl)) toWarden.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    await signIn(page, fay.email);
    await signedInAs(page, "Fay");
    await page.getByLabel("New note").fill("across origins");
    await page.getByRole("button", { name: "Add" }).click();
    await page.getByRole("listitem").filter({ hasText: "across origins" }).waitFor();
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();

    assert.ok(toWarden.includes("POST /api/v1/sign-in"), toWarden.join("\n"));
    assert.ok(toWarden.includes("POST /api/v1/sign-out"), toWarden.join("\n"));
    const seen = await on.stack.requests();
    assert.ok(!seen.some((r) => r.path.startsWith("/api/v1/")), "Warden's API was not called through the app's origin");
    assert.ok(seen.some((r) => r.method === "POST" && r.path === "/api/notes" && r.status === 201 && r.csrf));
    assert.deepEqual(await browserState(page), { local: [], session: [], cookie: "", databases: [], caches: [] });
    assert.deepEqual(errors, []);
    await context.close();
  });
});
