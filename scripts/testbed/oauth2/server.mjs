// Throwaway OAuth 2.0 authorization server for mailbroker's integration tests.
//
// A real authorization server (oidc-provider, see package.json) configured for
// tests: clients from a JSON file, short token lifetimes, everything in memory
// (a restart invalidates every token), a headless login/consent page, and a
// plain-HTTP side port that serves token introspection to Dovecot plus request
// counters for the tests. Normally started by ../oauth2.sh; see
// ../README.md ("OAuth2 server") for the interface tests rely on.
//
//   node server.mjs --config FILE --cert FILE --key FILE [options]
//
// Options (defaults in parentheses; some also from the environment variable shown):
//   --host ADDR             listen address (127.0.0.1)
//   --https-port N          OAuth endpoints over TLS; 0 = any free port (0)
//   --http-port N           plain HTTP: introspection + /_stats; 0 = any (0)
//   --access-ttl S          access token lifetime, s    OAUTH2_ACCESS_TTL (5)
//   --refresh-ttl S         refresh token lifetime, s   OAUTH2_REFRESH_TTL (86400)
//   --rotate-refresh yes|no refresh token rotation      OAUTH2_ROTATE_REFRESH (yes)
//   --clock-tolerance S     leeway for expiry checks    OAUTH2_CLOCK_TOLERANCE (0)
//   --exit-with-pid PID     exit when process PID is gone (orphan protection)
//   --quiet                 no access log on stdout
//
// When both ports listen it prints exactly one line
//   READY https_port=N http_port=N issuer=https://127.0.0.1:N
// on stdout. SIGTERM/SIGINT exit at once.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';
// Deep import of the package's own in-memory adapter (the package has no
// "exports" map, so this is allowed; the version is pinned exactly). We only
// replace its storage: the built-in one is an LRU capped at 1000 entries,
// which silently drops live tokens/sessions in longer test runs.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    config: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'https-port': { type: 'string', default: '0' },
    'http-port': { type: 'string', default: '0' },
    'access-ttl': { type: 'string', default: process.env.OAUTH2_ACCESS_TTL || '5' },
    'refresh-ttl': { type: 'string', default: process.env.OAUTH2_REFRESH_TTL || '86400' },
    'rotate-refresh': { type: 'string', default: process.env.OAUTH2_ROTATE_REFRESH || 'yes' },
    'clock-tolerance': { type: 'string', default: process.env.OAUTH2_CLOCK_TOLERANCE || '0' },
    'exit-with-pid': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

function fail(msg) {
  process.stderr.write(`server.mjs: error: ${msg}\n`);
  process.exit(2);
}

// oidc-provider 9 needs Node.js >= 20.18 (URL.parse); on older runtimes
// it would die later with "URL.parse is not a function". (8.8.1, the last
// release for Node.js 18, runs this file unchanged.)
const providerVersion = JSON.parse(fs.readFileSync(createRequire(import.meta.url).resolve('oidc-provider/package.json'), 'utf8')).version;
if (Number(providerVersion.split('.')[0]) >= 9 && typeof URL.parse !== 'function') {
  fail(`Node.js ${process.version} is too old for oidc-provider ${providerVersion}: it needs URL.parse (Node.js >= 20.18 or >= 22.1)`);
}

if (opt.help) {
  const text = fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  process.stdout.write(`${text.slice(0, 26).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
  process.exit(0);
}
for (const req of ['config', 'cert', 'key']) {
  if (!opt[req]) fail(`--${req} is required (see --help)`);
}

function intOpt(name, min, max) {
  const v = opt[name];
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    fail(`--${name} must be an integer in ${min}..${max}, got '${v}'`);
  }
  return Number(v);
}
function yesNo(name) {
  const v = String(opt[name]).toLowerCase();
  if (['yes', '1', 'true', 'on'].includes(v)) return true;
  if (['no', '0', 'false', 'off'].includes(v)) return false;
  return fail(`--${name} must be yes or no, got '${opt[name]}'`);
}

const HOST = opt.host;
const ACCESS_TTL = intOpt('access-ttl', 1, 365 * 86400);
const REFRESH_TTL = intOpt('refresh-ttl', 1, 365 * 86400);
const ROTATE_REFRESH = yesNo('rotate-refresh');
const CLOCK_TOLERANCE = intOpt('clock-tolerance', 0, 3600);
const HTTPS_PORT = intOpt('https-port', 0, 65535);
const HTTP_PORT = intOpt('http-port', 0, 65535);

// ---------------------------------------------------------------------------
// Config file
// ---------------------------------------------------------------------------
//
// {
//   "accounts": ["alice", "bob"],          // who can log in (= mail user names)
//   "passwords": {"alice": "..."},         // optional: for the password grant
//   "scopes": ["imap"],                    // scopes besides openid/offline_access
//   "clients": [ { oidc-provider client metadata ...,
//                  "mail_user": "alice",   // client_credentials tokens: username
//                  "access_ttl": 5 } ]     // optional per-client override
// }

let config;
try {
  config = JSON.parse(fs.readFileSync(opt.config, 'utf8'));
} catch (e) {
  fail(`cannot read config ${opt.config}: ${e.message}`);
}
const accounts = new Set(config.accounts ?? []);
const passwords = new Map(Object.entries(config.passwords ?? {}));
for (const [account, password] of passwords) {
  if (!accounts.has(account)) fail(`passwords: '${account}' is not one of the accounts`);
  if (typeof password !== 'string' || password === '') fail(`passwords: ${account}'s password must be a non-empty string`);
}
const extraScopes = config.scopes ?? [];
const mailUserOf = new Map(); // client_id -> mail user for client_credentials tokens
const accessTtlOf = new Map(); // client_id -> access token lifetime override
const clients = (config.clients ?? []).map((c) => {
  const { mail_user: mailUser, access_ttl: accessTtl, ...metadata } = c;
  if (!metadata.client_id) fail('every client needs a client_id');
  if (mailUser !== undefined) mailUserOf.set(metadata.client_id, String(mailUser));
  if (accessTtl !== undefined) {
    if (!Number.isSafeInteger(accessTtl) || accessTtl < 1) fail(`${metadata.client_id}: access_ttl must be a positive integer`);
    accessTtlOf.set(metadata.client_id, accessTtl);
  }
  return metadata;
});
if (clients.length === 0) fail('config has no clients');

let tls;
try {
  tls = { cert: fs.readFileSync(opt.cert), key: fs.readFileSync(opt.key) };
} catch (e) {
  fail(`cannot read TLS cert/key: ${e.message}`);
}

// ---------------------------------------------------------------------------
// Storage: unbounded in-memory map with expiry (same interface as the
// package's LRU: get / set(key, value, {maxAge}) / delete).
// ---------------------------------------------------------------------------

class ExpiringMap {
  #m = new Map();

  get(key) {
    const e = this.#m.get(key);
    if (e === undefined) return undefined;
    if (e.expiry !== undefined && e.expiry <= Date.now()) {
      this.#m.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key, value, { maxAge } = {}) {
    const expiry = typeof maxAge === 'number' && Number.isFinite(maxAge) ? Date.now() + maxAge : undefined;
    this.#m.set(key, { value, expiry });
    return this;
  }

  has(key) {
    return this.get(key) !== undefined;
  }

  delete(key) {
    return this.#m.delete(key);
  }

  sweep() {
    const now = Date.now();
    for (const [k, e] of this.#m) {
      if (e.expiry !== undefined && e.expiry <= now) this.#m.delete(k);
    }
  }
}
const store = new ExpiringMap();
setInterval(() => store.sweep(), 30_000).unref();

// ---------------------------------------------------------------------------
// Counters (GET /_stats, POST /_reset_stats on the plain HTTP port)
// ---------------------------------------------------------------------------

function freshStats() {
  return {
    token_requests_total: 0,
    token_requests: {}, // grant_type -> requests (any outcome)
    token_errors: {}, // grant_type -> requests answered with an error
    introspection_requests: 0,
    introspection_active: 0,
    revocation_requests: 0,
    authorization_requests: 0,
    since: new Date().toISOString(),
  };
}
let stats = freshStats();
const startedAt = new Date().toISOString();

// ---------------------------------------------------------------------------
// Ports first (port 0 = the kernel picks, no race), then the provider: the
// issuer contains the HTTPS port.
// ---------------------------------------------------------------------------

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

const httpsServer = https.createServer(tls);
const httpServer = http.createServer();
let httpsPort;
let httpPort;
try {
  httpsPort = await listen(httpsServer, HTTPS_PORT);
  httpPort = await listen(httpServer, HTTP_PORT);
} catch (e) {
  fail(`cannot listen on ${HOST}: ${e.message}`);
}
const hostForUrl = HOST.includes(':') ? `[${HOST}]` : HOST;
const ISSUER = `https://${hostForUrl}:${httpsPort}`;

// One EC key per run for ID tokens (and anything else signed): generating
// it takes ~1 ms, unlike RSA.
const signingKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  .export({ format: 'jwk' });
signingKey.kid = crypto.randomBytes(8).toString('hex');
signingKey.use = 'sig';
signingKey.alg = 'ES256';

function accessTtl(_ctx, token, client) {
  return accessTtlOf.get(client?.clientId ?? token.clientId) ?? ACCESS_TTL;
}

const provider = new Provider(ISSUER, {
  adapter: (name) => new MemoryAdapter(name, store, CLOCK_TOLERANCE),
  clients,
  clientDefaults: {
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: 'ES256',
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  clockTolerance: CLOCK_TOLERANCE,
  scopes: ['openid', 'offline_access', ...extraScopes],
  responseTypes: ['code'], // no implicit/hybrid flows
  features: {
    devInteractions: { enabled: false }, // ours are below
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // A resource server (Dovecot) must only ever see access tokens as
      // active; refresh tokens are only introspectable by their own client.
      async allowedPolicy(_ctx, client, token) {
        if (token.clientId !== client.clientId) {
          if (client.clientAuthMethod === 'none') return false;
          if (token.kind === 'RefreshToken') return false;
        }
        return true;
      },
    },
    revocation: { enabled: true },
    // Without resource indicators an access token carries the granted
    // scopes directly (e.g. "imap") and stays opaque, which is what the
    // introspection-based setup wants.
    resourceIndicators: { enabled: false },
    rpInitiatedLogout: { enabled: false },
  },
  ttl: {
    AccessToken: accessTtl,
    ClientCredentials: accessTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: REFRESH_TTL,
    Grant: Math.max(REFRESH_TTL, 86400),
    Interaction: 600,
    Session: 86400,
  },
  rotateRefreshToken: ROTATE_REFRESH,
  // A refresh token whenever the client may use the refresh_token grant,
  // whether or not offline_access was asked for, and tokens do not die with
  // the browser session.
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async expiresWithSession() {
    return false;
  },
  // Introspection has no mail-user field of its own: "username" is what
  // Dovecot's oauth2 passdb compares with the login name.
  async extraTokenClaims(_ctx, token) {
    if (token.kind === 'ClientCredentials') {
      const user = mailUserOf.get(token.clientId);
      return user === undefined ? undefined : { username: user };
    }
    if (token.accountId) return { username: token.accountId };
    return undefined;
  },
  async findAccount(_ctx, id) {
    if (!accounts.has(id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id };
      },
    };
  },
  interactions: {
    url(_ctx, interaction) {
      return `/interaction/${interaction.uid}`;
    },
  },
  // Errors as compact JSON instead of an HTML page: easier for headless tests.
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

// ---------------------------------------------------------------------------
// Resource owner password credentials grant (RFC 6749 4.3). oidc-provider has
// none built in (OAuth 2.1 drops it), but mailbroker's oauth2_password sessions
// need a server that checks a user's password: a client whose grant_types list
// "password" gets an ordinary opaque access token for that account, bound to a
// Grant like one from the code flow, so introspection answers for it exactly
// as for the others (username = the account).
// ---------------------------------------------------------------------------

function sameSecret(expected, given) {
  // Hashes first: timingSafeEqual wants equal lengths and must not leak them.
  const digest = (v) => crypto.createHash('sha256').update(String(v), 'utf8').digest();
  return crypto.timingSafeEqual(digest(expected), digest(given));
}

async function passwordGrant(ctx, next) {
  const { client, params } = ctx.oidc;
  if (!params.username || !params.password) {
    throw new errors.InvalidRequest('username and password are required');
  }
  const expected = passwords.get(params.username);
  // Unknown user and wrong password look the same to the client.
  if (expected === undefined || !sameSecret(expected, params.password)) {
    throw new errors.InvalidGrant('invalid username or password');
  }
  const scopes = params.scope ? [...new Set(params.scope.split(' ').filter(Boolean))] : [];
  const allowed = new Set((client.scope ?? '').split(' '));
  for (const scope of scopes) {
    if (!allowed.has(scope)) throw new errors.InvalidScope('requested scope is not allowed', scope);
  }
  const accountId = params.username;
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const grantId = await grant.save();
  const token = new provider.AccessToken({
    accountId,
    client,
    grantId,
    gty: 'password',
    scope: scopes.join(' ') || undefined,
  });
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    expires_in: token.expiration,
    token_type: token.tokenType,
    scope: token.scope || undefined,
  };
  await next();
}
provider.registerGrantType('password', passwordGrant, ['username', 'password', 'scope']);

// ---------------------------------------------------------------------------
// Middleware (runs before oidc-provider's own routes)
// ---------------------------------------------------------------------------

function dropSessionCookies(req) {
  const { cookie } = req.headers;
  if (!cookie) return;
  const name = provider.cookieName('session');
  const kept = cookie.split(';').filter((c) => {
    const n = c.trim().split('=', 1)[0];
    return n !== name && !n.startsWith(`${name}.`);
  });
  if (kept.length) req.headers.cookie = kept.join(';');
  else delete req.headers.cookie;
}

// Access log (stdout -> the log file oauth2.sh keeps) and counters.
provider.use(async (ctx, next) => {
  const t0 = process.hrtime.bigint();
  const { path } = ctx;
  // RFC 8414 metadata URL, served from the same document.
  if (path === '/.well-known/oauth-authorization-server') {
    ctx.path = '/.well-known/openid-configuration';
  }
  // No single sign-on: the authorization endpoint never sees the browser
  // session cookie, so every authorization request logs in afresh and
  // login_hint alone decides the account, even with a reused cookie jar.
  // (With a remembered session oidc-provider would silently reuse the old
  // account, or answer an account switch with an auto-submitting logout page.)
  if (path === '/auth' || path.startsWith('/auth/')) {
    dropSessionCookies(ctx.req);
  }
  try {
    await next();
  } finally {
    const post = ctx.method === 'POST';
    let extra = '';
    if (post && path === '/token') {
      const gt = ctx.oidc?.params?.grant_type || 'unknown';
      stats.token_requests_total += 1;
      stats.token_requests[gt] = (stats.token_requests[gt] ?? 0) + 1;
      if (ctx.status >= 400) stats.token_errors[gt] = (stats.token_errors[gt] ?? 0) + 1;
      extra = ` grant_type=${gt}`;
    } else if (post && path === '/token/introspection') {
      stats.introspection_requests += 1;
      const active = ctx.body?.active === true;
      if (active) stats.introspection_active += 1;
      extra = ` active=${active}${active && ctx.body.username ? ` username=${ctx.body.username}` : ''}`;
    } else if (post && path === '/token/revocation') {
      stats.revocation_requests += 1;
    } else if (path === '/auth') {
      stats.authorization_requests += 1;
    }
    if (!opt.quiet) {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const err = ctx.status >= 400 && ctx.body?.error ? ` error=${ctx.body.error}` : '';
      const note = ctx.state.note ?? '';
      process.stdout.write(`${new Date().toISOString()} ${ctx.secure ? 'https' : 'http'} ${ctx.method} ${path} ${ctx.status}${extra}${err}${note} ${ms.toFixed(1)}ms\n`);
    }
  }
});

// Headless login/consent ("interaction") pages.
//
//   GET  /interaction/UID        login prompt: if the authorization request
//                                had login_hint=<known account>, log in as that
//                                account and grant everything requested (one
//                                303 back to the authorization endpoint);
//                                otherwise a tiny HTML form.
//                                consent prompt: granted automatically (303).
//   POST /interaction/UID/login  form field login=<account> (same as above)
//   POST /interaction/UID/abort  the user refuses: the client's redirect_uri
//                                gets error=access_denied
function html(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>mailbroker testbed login</title></head><body>${body}</body></html>`;
}
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
function loginForm(ctx, uid, params, message) {
  html(ctx, 200, `<h1>Sign in (test accounts: ${esc([...accounts].join(', '))})</h1>
<p>client: ${esc(params.client_id)}, scope: ${esc(params.scope ?? '')}</p>
${message ? `<p id="error">${esc(message)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<input name="login" autofocus> <button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">Cancel</button></form>`);
}
async function readForm(ctx) {
  let size = 0;
  const chunks = [];
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 64 * 1024) ctx.throw(413, 'form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
async function finish(ctx, result, merge) {
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  ctx.respond = false; // interactionFinished wrote the 303 itself
}
async function completeLogin(ctx, details, accountId) {
  // Log in and consent in one step: a grant with every requested scope.
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  if (details.params.scope) grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await finish(ctx, { login: { accountId }, consent: { grantId } }, false);
}
async function completeConsent(ctx, details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  await finish(ctx, { consent: { grantId: await grant.save() } }, true);
}

provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(login|abort))?$/.exec(ctx.path);
  if (!m) return next();
  const [, uid, action] = m;
  ctx.set('cache-control', 'no-store');
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (e) {
    // No/expired interaction cookie: the test did not keep its cookie jar.
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: `interaction: ${e.message} (keep the cookies from the authorization endpoint's redirect)` };
    return undefined;
  }
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'interaction cookie does not belong to this URL' };
    return undefined;
  }
  const { prompt, params } = details;
  ctx.state.note = ` prompt=${prompt.name} reasons=${prompt.reasons.join(',')}`;

  if (action === 'abort' && ctx.method === 'POST') {
    return finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  }
  if (action === 'login' && ctx.method === 'POST') {
    if (prompt.name !== 'login') return completeConsent(ctx, details);
    const login = (await readForm(ctx)).get('login') ?? '';
    if (!accounts.has(login)) return loginForm(ctx, uid, params, `unknown account '${login}'`);
    return completeLogin(ctx, details, login);
  }
  if (action === undefined && ctx.method === 'GET') {
    if (prompt.name === 'login') {
      if (params.login_hint && accounts.has(params.login_hint)) {
        return completeLogin(ctx, details, params.login_hint);
      }
      return loginForm(ctx, uid, params, params.login_hint ? `unknown account '${params.login_hint}'` : '');
    }
    if (prompt.name === 'consent') return completeConsent(ctx, details);
    ctx.status = 501;
    ctx.body = { error: 'server_error', error_description: `prompt ${prompt.name} not supported` };
    return undefined;
  }
  ctx.status = 405;
  ctx.body = { error: 'invalid_request', error_description: 'method not allowed' };
  return undefined;
});

// ---------------------------------------------------------------------------
// Wire up the servers
// ---------------------------------------------------------------------------

const providerHandler = provider.callback();
httpsServer.on('request', providerHandler);

function sendJson(res, status, obj) {
  const body = `${JSON.stringify(obj)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
// Plain HTTP: only what Dovecot and the test harness need. The OAuth
// endpoints a client uses are HTTPS-only on purpose, so a client that
// accidentally talks plain HTTP fails loudly.
httpServer.on('request', (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/token/introspection') return providerHandler(req, res);
  if (path === '/_stats' && req.method === 'GET') {
    return sendJson(res, 200, {
      ...stats,
      started_at: startedAt,
      issuer: ISSUER,
      access_ttl: ACCESS_TTL,
      refresh_ttl: REFRESH_TTL,
      rotate_refresh: ROTATE_REFRESH,
    });
  }
  if (path === '/_reset_stats' && req.method === 'POST') {
    stats = freshStats();
    return sendJson(res, 200, stats);
  }
  if (path === '/_health' && req.method === 'GET') return sendJson(res, 200, { ok: true });
  return sendJson(res, 404, { error: 'not_found', error_description: 'plain HTTP serves only /token/introspection, GET /_stats, POST /_reset_stats, GET /_health' });
});

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
if (opt['exit-with-pid']) {
  const watched = Number(opt['exit-with-pid']);
  if (!Number.isSafeInteger(watched) || watched <= 1) fail('--exit-with-pid needs a pid > 1');
  setInterval(() => {
    try {
      process.kill(watched, 0);
    } catch (e) {
      if (e.code === 'ESRCH') {
        process.stderr.write(`server.mjs: process ${watched} is gone, exiting\n`);
        process.exit(0);
      }
    }
  }, 500).unref();
}

process.stdout.write(`READY https_port=${httpsPort} http_port=${httpPort} issuer=${ISSUER}\n`);
