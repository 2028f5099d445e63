// Strict fake Microsoft Graph v1.0 mail API for mailbroker's tests (issue 12, "Test peers").
// Normally started by ../graph.sh; see ../README.md ("Fake Microsoft Graph").
//
//   node server.mjs --config FILE
//
// The config (JSON, written by graph.sh): host, graph_port, control_port (0 = any),
// tls_cert, tls_key, users [{name, address, displayName}], delegates {owner: [grantee]},
// introspect_url, introspect_client_id, introspect_client_secret, required_scope,
// concurrency (4), retry_after (seconds, 1), exit_with_pid.
// When both ports listen it prints one line
//   READY graph_port=N control_port=N
// Only Node.js built-ins: no npm modules for the server itself.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

import { GraphApi, GraphError, errorBody, runBatch } from './lib/api.mjs';
import { AuthError, Authenticator } from './lib/auth.mjs';
import { ODataError } from './lib/odata.mjs';
import { Mailbox, messageJson } from './lib/store.mjs';
import { parseAddressList } from './lib/mime.mjs';

// Bounds: request bodies (Graph refuses larger requests; 4 MB is its limit for a JSON
// payload, MIME sends included), the request log kept for the control API.
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const MAX_CONTROL_BYTES = 64 * 1024 * 1024;
const MAX_LOG_ENTRIES = 10000;

function fail(msg) {
  process.stderr.write(`server.mjs: error: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args[0] !== '--config' || !args[1]) fail('usage: node server.mjs --config FILE');
let config;
try {
  config = JSON.parse(fs.readFileSync(args[1], 'utf8'));
} catch (e) {
  fail(`cannot read config ${args[1]}: ${e.message}`);
}
const users = (config.users ?? []).map((u) => ({
  name: u.name, address: u.address, displayName: u.displayName ?? u.name, id: crypto.randomUUID(),
}));
if (users.length === 0) fail('config has no users');

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

function freshCounters() {
  return {
    requests: 0, connections: 0, throttled: 0, status: {}, max_in_flight: {}, introspections: 0,
    batches: 0, batch_requests: 0, sent: 0, delivered: 0, messages_listed: 0, mime_bytes: 0,
    delta_items: 0, injected_failures: 0, unauthorized: 0, since: new Date().toISOString(),
  };
}
const counters = freshCounters();
const settings = {
  concurrency: config.concurrency ?? 4,
  retry_after: config.retry_after ?? 1,
  delay_ms: 0,
};
let failures = []; // [{mode, remaining, bytes, retry_after}] applied in order
const requestLog = [];
const mailboxes = new Map();
function resetMailboxes() {
  mailboxes.clear();
  for (const u of users) mailboxes.set(u.name, new Mailbox(u));
}
resetMailboxes();

function findLocal(address) {
  return users.find((u) => u.address.toLowerCase() === String(address).toLowerCase());
}
// A message sent by anyone lands in the inbox of each local recipient (To, Cc, Bcc).
function deliverLocal(raw, over = {}) {
  const text = raw.toString('latin1');
  const head = text.slice(0, Math.max(text.indexOf('\r\n\r\n'), 0) || text.length);
  const addrs = [];
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const m = /^(to|cc|bcc):(.*)$/i.exec(line);
    if (m) addrs.push(...parseAddressList(m[2]).map((a) => a.address));
  }
  const seen = new Set();
  for (const a of addrs) {
    const u = findLocal(a);
    if (!u || seen.has(u.name)) continue;
    seen.add(u.name);
    const mb = mailboxes.get(u.name);
    mb.addRaw(mb.folder('inbox').id, raw, { conversationId: over.conversationId });
    counters.delivered += 1;
  }
}

const auth = new Authenticator(config, counters);
const api = new GraphApi({ config, users, mailboxes, counters, settings, deliverLocal });

// ---------------------------------------------------------------------------
// Graph HTTPS side
// ---------------------------------------------------------------------------

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new GraphError(413, 'RequestEntityTooLarge', `The request body is larger than ${limit} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const JSON_TYPE = 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';

function toResponse(e, requestId, clientRequestId) {
  if (e instanceof GraphError) {
    return { status: e.status, headers: e.headers, json: errorBody(e.code, e.message, requestId, clientRequestId) };
  }
  if (e instanceof ODataError) return { status: 400, json: errorBody(e.code, e.message, requestId, clientRequestId) };
  if (e instanceof AuthError) {
    return {
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"' },
      json: errorBody('InvalidAuthenticationToken', e.message, requestId, clientRequestId),
    };
  }
  process.stdout.write(`internal error: ${e.stack}\n`);
  return { status: 500, json: errorBody('generalException', `Internal error in the fake: ${e.message}`, requestId, clientRequestId) };
}

// One request through the API, errors turned into Graph error responses.
async function dispatch(sub, principal, baseUrl, requestId, clientRequestId) {
  try {
    return await api.handle({ ...sub, principal, baseUrl });
  } catch (e) {
    return toResponse(e, requestId, clientRequestId);
  }
}

function injected(res, f, headers) {
  counters.injected_failures += 1;
  if (f.mode === 'html502') {
    const page = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><p>The proxy server received an invalid response from an upstream server.</p></body></html>\n';
    res.writeHead(502, { ...headers, 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(page) });
    res.end(page);
    return 502;
  }
  if (f.mode === 'truncated') {
    // Declares the full length, sends half of the JSON, then cuts the connection.
    const full = JSON.stringify({ '@odata.context': 'x', value: [{ id: 'AAMk', subject: 'truncated on purpose' }] });
    res.writeHead(200, { ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(full) });
    res.write(full.slice(0, Math.floor(full.length / 2)));
    setTimeout(() => res.socket?.destroy(), 10);
    return 200;
  }
  if (f.mode === 'huge') {
    // A well-formed but enormous JSON answer, streamed without a Content-Length.
    res.writeHead(200, { ...headers, 'Content-Type': JSON_TYPE });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let left = f.bytes;
    res.write('{"value":[{"subject":"');
    const pump = () => {
      while (left > 0) {
        left -= chunk.length;
        if (!res.write(chunk)) { res.once('drain', pump); return; }
      }
      res.end('"}]}');
    };
    res.on('error', () => {});
    pump();
    return 200;
  }
  // throttle: a 429 exactly as the concurrency limit gives it.
  counters.throttled += 1;
  const body = JSON.stringify(errorBody('ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', headers['request-id'], headers['client-request-id']));
  res.writeHead(429, { ...headers, 'Retry-After': String(f.retry_after), 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return 429;
}

function logRequest(entry) {
  requestLog.push(entry);
  if (requestLog.length > MAX_LOG_ENTRIES) requestLog.splice(0, requestLog.length - MAX_LOG_ENTRIES);
}

async function onGraphRequest(req, res, baseOrigin) {
  const t0 = Date.now();
  counters.requests += 1;
  const requestId = crypto.randomUUID();
  const clientRequestId = req.headers['client-request-id'] ?? crypto.randomUUID();
  const headers = { 'request-id': requestId, 'client-request-id': clientRequestId, 'Cache-Control': 'no-cache' };
  const url = new URL(req.url, baseOrigin);
  const entry = { time: new Date(t0).toISOString(), method: req.method, path: url.pathname, query: decodeURIComponent(url.search.slice(1)), status: 0, ms: 0, user: null, batch: null };
  let result;
  try {
    if (!url.pathname.startsWith('/v1.0/')) {
      throw new GraphError(400, 'BadRequest', `Invalid version: the path must start with /v1.0/ (got '${url.pathname}').`);
    }
    const body = ['POST', 'PATCH', 'PUT'].includes(req.method) ? await readBody(req, MAX_REQUEST_BYTES) : Buffer.alloc(0);
    let principal;
    try {
      principal = await auth.authenticate(req.headers.authorization);
    } catch (e) {
      if (e instanceof AuthError) counters.unauthorized += 1;
      throw e;
    }
    entry.user = principal.user;
    const f = failures[0];
    if (f) {
      f.remaining -= 1;
      if (f.remaining <= 0) failures.shift();
      entry.status = injected(res, f, headers);
      entry.injected = f.mode;
      return;
    }
    const path = url.pathname.slice(5);
    const base = `${baseOrigin}/v1.0`;
    const sub = { method: req.method, path, query: url.search, headers: req.headers, body };
    if (path === '/$batch') {
      if (req.method !== 'POST') throw new GraphError(405, 'BadRequest', '$batch takes POST.');
      counters.batches += 1;
      result = await runBatch({ ...sub, principal }, async (s) => {
        counters.batch_requests += 1;
        const r = await dispatch(s, principal, base, requestId, clientRequestId);
        counters.status[r.status] = (counters.status[r.status] ?? 0) + 1;
        entry.batch ??= [];
        entry.batch.push({ method: s.method, path: s.path, query: decodeURIComponent(s.query), status: r.status });
        return r;
      });
    } else {
      result = await api.handle({ ...sub, principal, baseUrl: base });
    }
  } catch (e) {
    result = toResponse(e, requestId, clientRequestId);
  }
  const out = { ...headers, ...(result.headers ?? {}) };
  let payload = null;
  if (result.json !== undefined) {
    payload = Buffer.from(JSON.stringify(result.json));
    out['Content-Type'] = JSON_TYPE;
  } else if (result.body !== undefined) {
    payload = result.body;
  }
  if (payload) out['Content-Length'] = payload.length;
  else if (result.status !== 204) out['Content-Length'] = 0;
  res.writeHead(result.status, out);
  res.end(payload ?? undefined);
  entry.status = result.status;
  if (result.json?.error) entry.error = result.json.error.code;
  counters.status[result.status] = (counters.status[result.status] ?? 0) + 1;
  entry.ms = Date.now() - t0;
  logRequest(entry);
  process.stdout.write(`${entry.time} ${entry.method} ${entry.path} ${entry.status}${entry.error ? ` ${entry.error}` : ''} ${entry.ms}ms\n`);
}

// ---------------------------------------------------------------------------
// Control API (plain HTTP on loopback; the tests' side door)
// ---------------------------------------------------------------------------

function sendJson(res, status, obj) {
  const body = `${JSON.stringify(obj)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const intParam = (q, name, def, min, max) => {
  const v = q.get(name);
  if (v === null) return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`${name} must be an integer in ${min}..${max}`);
  return Number(v);
};

function mailboxOf(q) {
  const name = q.get('user');
  const u = users.find((x) => x.name === name || x.address === name);
  if (!u) throw new Error(`unknown user '${name}' (users: ${users.map((x) => x.name).join(', ')})`);
  return mailboxes.get(u.name);
}

async function onControl(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const q = url.searchParams;
  const op = url.pathname.replace(/^\/_control\/?/, '');
  try {
    const body = req.method === 'POST' ? await readBody(req, MAX_CONTROL_BYTES) : Buffer.alloc(0);
    const route = `${req.method} ${op}`;
    switch (route) {
      case 'POST reset':
        resetMailboxes();
        Object.assign(counters, freshCounters());
        requestLog.length = 0;
        failures = [];
        auth.reset();
        settings.delay_ms = 0;
        settings.concurrency = config.concurrency ?? 4;
        settings.retry_after = config.retry_after ?? 1;
        return sendJson(res, 200, { ok: true });
      case 'GET counters':
        return sendJson(res, 200, { ...counters, in_flight: api.throttle.snapshot(), settings });
      case 'GET requests':
        return sendJson(res, 200, requestLog);
      case 'POST deliver': {
        const mb = mailboxOf(q);
        const folder = mb.folder(q.get('folder') ?? 'inbox');
        if (!folder) throw new Error(`no folder '${q.get('folder')}'`);
        if (!body.length) throw new Error('the body must be the raw RFC 5322 message');
        const received = q.get('received') ? Date.parse(q.get('received')) : undefined;
        if (received !== undefined && Number.isNaN(received)) throw new Error('received must be an ISO 8601 date');
        const msg = mb.addRaw(folder.id, body, { received, isRead: q.get('read') === '1' });
        counters.delivered += 1;
        return sendJson(res, 200, { id: msg.id, folder_id: folder.id, conversation_id: msg.conversationId });
      }
      case 'POST folder': {
        const mb = mailboxOf(q);
        const parent = mb.folder(q.get('parent') ?? 'msgfolderroot');
        if (!parent) throw new Error(`no folder '${q.get('parent')}'`);
        const name = q.get('name');
        if (!name) throw new Error('name is required');
        const f = mb.addFolder(parent.id, name);
        f.isHidden = q.get('hidden') === '1';
        return sendJson(res, 200, { id: f.id });
      }
      case 'GET mailbox': {
        const mb = mailboxOf(q);
        const folders = [...mb.folders.values()].map((f) => ({
          id: f.id, name: f.displayName, wellKnownName: f.wellKnownName, parent: f.parentFolderId,
          messages: mb.messagesIn(f.id).map((m) => ({ ...messageJson(m, ['subject', 'isRead', 'flag', 'conversationId', 'internetMessageId']) })),
        }));
        return sendJson(res, 200, { user: mb.user, seq: mb.seq, folders });
      }
      case 'POST delay':
        settings.delay_ms = intParam(q, 'ms', 0, 0, 600000);
        return sendJson(res, 200, settings);
      case 'POST limits':
        settings.concurrency = intParam(q, 'concurrency', settings.concurrency, 1, 1000);
        settings.retry_after = intParam(q, 'retry_after', settings.retry_after, 0, 3600);
        return sendJson(res, 200, settings);
      case 'POST fail': {
        const mode = q.get('mode');
        if (!['html502', 'truncated', 'huge', 'throttle'].includes(mode)) throw new Error('mode must be html502, truncated, huge or throttle');
        const f = {
          mode,
          remaining: intParam(q, 'count', 1, 1, 100000),
          bytes: intParam(q, 'bytes', 32 * 1024 * 1024, 1, 4 * 1024 * 1024 * 1024),
          retry_after: intParam(q, 'retry_after', settings.retry_after, 0, 3600),
        };
        failures.push(f);
        return sendJson(res, 200, { queued: failures.length });
      }
      case 'POST mint_token': {
        const app = q.get('app') === '1';
        const user = q.get('user');
        if (!app && !users.some((u) => u.name === user)) throw new Error('user must name a user (or app=1 for an app-only token)');
        const permissions = q.get('permissions') ? q.get('permissions').split(',') : undefined;
        const token = auth.mint({ user: app ? null : user, app, permissions, clientId: q.get('client_id') ?? undefined });
        return sendJson(res, 200, { access_token: token, token_type: 'Bearer' });
      }
      default:
        return sendJson(res, 404, { error: `unknown control call '${route}'` });
    }
  } catch (e) {
    return sendJson(res, 400, { error: e.message });
  }
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

let tls;
try {
  tls = { cert: fs.readFileSync(config.tls_cert), key: fs.readFileSync(config.tls_key) };
} catch (e) {
  fail(`cannot read TLS cert/key: ${e.message}`);
}
const host = config.host ?? '127.0.0.1';
const graphServer = https.createServer({ ...tls, keepAliveTimeout: 30000 });
const controlServer = http.createServer((req, res) => { onControl(req, res); });
graphServer.on('secureConnection', () => { counters.connections += 1; });

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}
let graphPort;
let controlPort;
try {
  graphPort = await listen(graphServer, config.graph_port ?? 0);
  controlPort = await listen(controlServer, config.control_port ?? 0);
} catch (e) {
  fail(`cannot listen on ${host}: ${e.message}`);
}
const origin = `https://${host}:${graphPort}`;
graphServer.on('request', (req, res) => {
  onGraphRequest(req, res, origin).catch((e) => {
    process.stdout.write(`internal error: ${e.stack}\n`);
    if (!res.headersSent) { res.writeHead(500); res.end(); }
  });
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
if (config.exit_with_pid) {
  setInterval(() => {
    try {
      process.kill(config.exit_with_pid, 0);
    } catch (e) {
      if (e.code === 'ESRCH') process.exit(0);
    }
  }, 500).unref();
}
process.stdout.write(`READY graph_port=${graphPort} control_port=${controlPort}\n`);
