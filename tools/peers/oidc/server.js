// A real OpenID Provider for Warden's tests: panva's oidc-provider (OpenID
// Certified) with one confidential client, users from users.json, a login
// form at /interaction/:uid, and test-only control endpoints (/_test/*) that
// forge the next id_token so the relying party's refusals can be tested.
//
//   node server.js PORT        (or OIDC_PORT=PORT node server.js)
//
// See README.md for the environment variables and the tamper modes.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const env = process.env;
const port = Number(process.argv[2] || env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.js PORT (or OIDC_PORT=PORT)');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const list = (value) => (value || '').split(',').map((s) => s.trim()).filter(Boolean);

const clientId = env.OIDC_CLIENT_ID || 'test-client';
const clientSecret = env.OIDC_CLIENT_SECRET || 'test-client-secret';
const redirectUris = list(env.OIDC_REDIRECT_URIS || 'http://127.0.0.1:8080/callback');
const postLogoutRedirectUris = list(env.OIDC_POST_LOGOUT_REDIRECT_URIS);

// users.json: { "<username>": { password, email, email_verified, name, groups, amr, acr? } }
const usersFile = env.OIDC_USERS || fileURLToPath(new URL('./users.json', import.meta.url));
const users = JSON.parse(readFileSync(usersFile, 'utf8'));
const autoLogin = env.OIDC_AUTO_LOGIN || '';
if (autoLogin && !users[autoLogin]) {
  console.error(`OIDC_AUTO_LOGIN=${autoLogin}: no such user in ${usersFile}`);
  process.exit(2);
}

// A fresh RS256 signing key at each start, and a second one whose kid is in
// no JWKS (tamper mode unknown_key).
async function rsaKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  jwk.kid = await jose.calculateJwkThumbprint(jwk);
  return { key: privateKey, jwk: { ...jwk, alg: 'RS256', use: 'sig' } };
}
const signing = await rsaKey();
const unknown = await rsaKey();

// Test controls: extra claims per user (POST /_test/claims) and the forgery
// to apply to the next token response (POST /_test/tamper).
let claimOverrides = {};
let tamperMode = null;

function profile(sub) {
  const { password, ...rest } = users[sub];
  return { ...rest, ...claimOverrides[sub], sub };
}

async function findAccount(ctx, sub) {
  if (!users[sub]) return undefined;
  return {
    accountId: sub,
    async claims() {
      // amr and acr come from the login (session), not from the account.
      const { amr, acr, ...claims } = profile(sub);
      return claims;
    },
  };
}

// Consent is pre-granted: the grant always covers the requested scopes/claims.
async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  const grant = (grantId && await oidc.provider.Grant.find(grantId))
    || new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.account.accountId });
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  grant.addOIDCClaims([...oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

const html = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${html(title)}</title></head>
<body>
${body}
</body></html>
`;

const acrValues = [...new Set(Object.values(users).map((u) => u.acr).filter(Boolean))];

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token'],
    // client_secret_post is accepted for a client_secret_basic client too.
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 knows
  jwks: { keys: [signing.jwk] },
  findAccount,
  loadExistingGrant,
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  claims: {
    // oidc-provider only puts acr, amr and auth_time in an id_token when they
    // are requested (claims/acr_values/max_age) unless a scope lists them:
    // under openid they are always there (amr/acr from the login result).
    sid: null,
    iss: null,
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // Advertised as acr_values_supported.
  acrValues: acrValues.length ? acrValues : ['urn:warden:mfa'],
  conformIdTokenClaims: false,
  ttl: { // seconds; set so oidc-provider does not log a notice for each default
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600,
    RefreshToken: 86400, Grant: 86400, Session: 86400,
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        const buttons = '<button id="logout" type="submit" name="logout" value="yes">Sign out</button> '
          + '<button id="stay" type="submit">Stay signed in</button>';
        ctx.body = page('Sign out', `<h1>Sign out of ${html(ctx.host)}?</h1>\n${form.replace('</form>', `${buttons}</form>`)}`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>Signed out</h1>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1>\n${Object.entries(out)
      .map(([k, v]) => `<pre id="${html(k)}">${html(k)}: ${html(v)}</pre>`).join('\n')}`);
  },
});

// --- request log ----------------------------------------------------------
provider.use(async (ctx, next) => {
  const start = Date.now();
  try {
    await next();
  } finally {
    console.log(`${new Date().toISOString()} ${ctx.method} ${ctx.url} ${ctx.status} ${Date.now() - start}ms`);
  }
});

async function readBody(ctx) {
  let body = '';
  for await (const chunk of ctx.req) {
    body += chunk;
    if (body.length > 65536) ctx.throw(413, 'body too large');
  }
  return body;
}
async function readJson(ctx) {
  try {
    return JSON.parse(await readBody(ctx) || '{}');
  } catch {
    return ctx.throw(400, 'body must be JSON');
  }
}

// --- login and consent (interactions) --------------------------------------
function loginForm(ctx, uid, { username = '', error = '' } = {}) {
  ctx.type = 'html';
  ctx.body = page('Sign in', `<h1>Sign in</h1>
${error ? `<p id="error" role="alert">${html(error)}</p>\n` : ''}<form method="post" action="/interaction/${html(uid)}/login">
  <label for="username">Username</label>
  <input id="username" name="username" type="text" autocomplete="username" value="${html(username)}" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>`);
}

async function finish(ctx, result) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.redirect(returnTo);
  ctx.status = 303;
}

function login(sub) {
  const { amr, acr } = profile(sub);
  return { login: { accountId: sub, ...(amr && { amr }), ...(acr && { acr }) } };
}

// The consent prompt (e.g. a forced prompt=consent) is granted at once.
async function consent(ctx, details) {
  const { prompt: { details: missing }, params, session: { accountId } } = details;
  const grant = (details.grantId && await provider.Grant.find(details.grantId))
    || new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const result = { consent: { grantId } };
  await finish(ctx, result);
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!match) return next();
  const [, uid, isLogin] = match;
  ctx.set('Cache-Control', 'no-store');
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    const prompt = details.prompt.name;

    if (ctx.method === 'GET' && !isLogin) {
      if (prompt === 'consent') return await consent(ctx, details);
      if (prompt !== 'login') ctx.throw(400, `unsupported prompt ${prompt}`);
      if (autoLogin) return await finish(ctx, login(autoLogin));
      return loginForm(ctx, uid, { username: details.params.login_hint });
    }
    if (ctx.method === 'POST' && isLogin) {
      if (prompt !== 'login') ctx.throw(400, `not a login prompt: ${prompt}`);
      const form = new URLSearchParams(await readBody(ctx));
      const username = form.get('username') || '';
      const user = Object.hasOwn(users, username) ? users[username] : undefined;
      if (!user || user.password !== (form.get('password') || '')) {
        loginForm(ctx, uid, { username, error: 'Invalid username or password.' });
        ctx.status = 401;
        return undefined;
      }
      return await finish(ctx, login(username));
    }
    ctx.throw(405);
  } catch (err) {
    ctx.status = err.status || err.statusCode || 500;
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1>\n<pre id="error">${html(err.error || err.message)}: ${html(err.error_description || '')}</pre>`);
    if (ctx.status >= 500) console.error(err);
  }
  return undefined;
});

// --- test controls ---------------------------------------------------------
const modes = ['none', 'unknown_key', 'issuer', 'expired', 'nonce', 'audience', 'hs256'];

provider.use(async (ctx, next) => {
  if (ctx.path === '/_test/tamper') {
    if (ctx.method === 'POST') {
      const { mode = null } = await readJson(ctx);
      if (mode !== null && !modes.includes(mode)) {
        ctx.status = 400;
        ctx.body = { error: `unknown mode ${JSON.stringify(mode)}`, modes };
        return;
      }
      tamperMode = mode;
    } else if (ctx.method !== 'GET') {
      ctx.throw(405);
    }
    ctx.body = { mode: tamperMode };
    return;
  }
  if (ctx.path === '/_test/claims') {
    if (ctx.method === 'POST') {
      const { sub, claims } = await readJson(ctx);
      if (!Object.hasOwn(users, sub || '')) ctx.throw(400, `unknown sub ${sub}`);
      if (!claims || typeof claims !== 'object' || Array.isArray(claims)) ctx.throw(400, 'claims must be an object');
      claimOverrides[sub] = { ...claimOverrides[sub], ...claims };
    } else if (ctx.method === 'DELETE') {
      claimOverrides = {};
    } else if (ctx.method !== 'GET') {
      ctx.throw(405);
    }
    ctx.body = claimOverrides;
    return;
  }
  await next();
});

// Rewrites the id_token of the next successful token response.
const b64json = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const sign = (header, claims, key) => new jose.CompactSign(Buffer.from(JSON.stringify(claims)))
  .setProtectedHeader(header).sign(key);

async function forge(idToken, mode) {
  const header = jose.decodeProtectedHeader(idToken);
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'none':
      return `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(claims)}.`;
    case 'unknown_key':
      return sign({ ...header, alg: 'RS256', kid: unknown.jwk.kid }, claims, unknown.key);
    case 'issuer':
      return sign(header, { ...claims, iss: 'http://127.0.0.1:1/other-issuer' }, signing.key);
    case 'expired':
      return sign(header, { ...claims, iat: now - 7200, exp: now - 3600 }, signing.key);
    case 'nonce':
      return sign(header, { ...claims, nonce: 'forged-nonce' }, signing.key);
    case 'audience': {
      const { azp, ...rest } = claims;
      return sign(header, { ...rest, aud: 'another-client' }, signing.key);
    }
    case 'hs256':
      return sign({ ...header, alg: 'HS256' }, claims, new TextEncoder().encode(clientSecret));
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
}

provider.use(async (ctx, next) => {
  await next();
  if (tamperMode && ctx.method === 'POST' && ctx.path === '/token'
      && ctx.status === 200 && typeof ctx.body?.id_token === 'string') {
    const mode = tamperMode;
    tamperMode = null;
    ctx.body = { ...ctx.body, id_token: await forge(ctx.body.id_token, mode) };
    console.log(`tamper: id_token forged (${mode})`);
  }
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening, issuer ${issuer}, client ${clientId}, redirect_uris ${redirectUris.join(',')}${autoLogin ? `, auto login ${autoLogin}` : ''}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    console.log(`${signal}: stopping`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
