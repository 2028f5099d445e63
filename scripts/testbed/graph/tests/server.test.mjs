// The fake over HTTPS: what it must refuse or inject (graph.sh starts it in a temp dir).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

const here = path.dirname(new URL(import.meta.url).pathname);
const graphSh = path.join(here, '..', '..', 'graph.sh');
let state;
let env;
let ca;

before(() => {
  state = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-graph-selftest-'));
  const envFile = execFileSync(graphSh, ['start', state], { env: { ...process.env, MB_GRAPH_EXIT_WITH_PID: String(process.pid) } })
    .toString().trim().split('\n').pop();
  env = Object.fromEntries(fs.readFileSync(envFile, 'utf8').split('\n').filter((l) => l.includes('=') && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  ca = fs.readFileSync(env.CA_FILE);
});
after(() => {
  execFileSync(graphSh, ['stop', state], { stdio: 'ignore' });
  fs.rmSync(state, { recursive: true, force: true });
});

async function ctl(method, p, body) {
  const r = await fetch(`${env.CONTROL_URL}/${p}`, { method, body });
  assert.ok(r.ok, `control ${p}: ${r.status}`);
  return r.json();
}
const token = async (q) => (await ctl('POST', `mint_token?${q}`)).access_token;

// -> {status, headers, text, json} ; a cut connection resolves with {cut: true, text}.
function call(method, p, { tok, body, type = 'application/json' } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (tok) headers.authorization = `Bearer ${tok}`;
    if (body !== undefined) headers['content-type'] = type;
    const req = https.request(`${env.GRAPH_URL}${p}`, { method, headers, ca }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => { size += c.length; if (size < 1 << 20) chunks.push(c); });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json, size });
      });
      res.on('aborted', () => resolve({ cut: true, text: Buffer.concat(chunks).toString() }));
      res.on('error', () => resolve({ cut: true, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

test('errors carry the Graph error shape and request ids', async () => {
  await ctl('POST', 'reset');
  const r = await call('GET', '/me/messages?$top=1001', { tok: await token('user=alice') });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'BadRequest');
  assert.equal(r.json.error.innerError['request-id'], r.headers['request-id']);
  assert.ok(r.headers['client-request-id']);
  const missing = await call('GET', '/me/messages/AAMkAGxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxAAA=', { tok: await token('user=alice') });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'ErrorItemNotFound');
  const malformed = await call('GET', '/me/messages/42', { tok: await token('user=alice') });
  assert.equal(malformed.json.error.code, 'ErrorInvalidIdMalformed');
});

test('permissions and who may open which mailbox', async () => {
  const readOnly = await token('user=alice&permissions=Mail.Read');
  const sent = await call('POST', '/me/sendMail', { tok: readOnly, body: { message: { toRecipients: [{ emailAddress: { address: 'bob@testlab.test' } }] } } });
  assert.equal(sent.status, 403);
  assert.match(sent.json.error.message, /Mail\.Send/);
  const other = await call('GET', '/users/bob@testlab.test/mailFolders', { tok: await token('user=alice') });
  assert.equal(other.status, 403);
  const app = await token('app=1');
  assert.equal((await call('GET', '/me/mailFolders', { tok: app })).status, 400);
  assert.equal((await call('GET', '/users/bob@testlab.test/mailFolders/inbox', { tok: app })).status, 200);
});

test('request bodies are checked', async () => {
  const tok = await token('user=alice');
  assert.equal((await call('POST', '/me/sendMail', { tok, body: '{"message":', type: 'application/json' })).status, 400);
  assert.equal((await call('POST', '/me/sendMail', { tok, body: 'not base64!', type: 'text/plain' })).json.error.code, 'ErrorMimeContentInvalidBase64String');
  assert.equal((await call('POST', '/me/sendMail', { tok, body: { message: {} } })).json.error.code, 'ErrorInvalidRecipients');
  const big = await call('POST', '/me/sendMail', { tok, body: 'A'.repeat(5 * 1024 * 1024), type: 'text/plain' }).catch(() => ({ status: 413 }));
  assert.equal(big.status, 413);
});

test('$batch limits', async () => {
  const tok = await token('user=alice');
  const reqs = (n) => Array.from({ length: n }, (_, i) => ({ id: String(i), method: 'GET', url: '/me/mailFolders/inbox' }));
  const ok = await call('POST', '/$batch', { tok, body: { requests: reqs(20) } });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.responses.length, 20);
  assert.ok(ok.json.responses.every((r) => r.status === 200 && r.body.displayName === 'Inbox'));
  assert.equal((await call('POST', '/$batch', { tok, body: { requests: reqs(21) } })).status, 400);
  const dup = await call('POST', '/$batch', { tok, body: { requests: [...reqs(2), { id: '0', method: 'GET', url: '/me' }] } });
  assert.equal(dup.status, 400);
  const dep = await call('POST', '/$batch', {
    tok,
    body: { requests: [{ id: 'a', method: 'GET', url: '/me/mailFolders/nosuchname' }, { id: 'b', method: 'GET', url: '/me/mailFolders/inbox', dependsOn: ['a'] }] },
  });
  assert.deepEqual(dep.json.responses.map((r) => r.status), [400, 424]);
});

test('injected failures: HTML 502, truncated JSON, huge body, throttle', async () => {
  const tok = await token('user=alice');
  await ctl('POST', 'fail?mode=html502');
  const html = await call('GET', '/me/mailFolders', { tok });
  assert.equal(html.status, 502);
  assert.match(html.headers['content-type'], /text\/html/);
  await ctl('POST', 'fail?mode=truncated');
  const cut = await call('GET', '/me/mailFolders', { tok });
  assert.ok(cut.cut || cut.json === undefined, 'truncated JSON must not parse');
  await ctl('POST', 'fail?mode=huge&bytes=3000000');
  const huge = await call('GET', '/me/mailFolders', { tok });
  assert.ok(huge.size >= 3000000);
  await ctl('POST', 'fail?mode=throttle&retry_after=7');
  const t = await call('GET', '/me/mailFolders', { tok });
  assert.equal(t.status, 429);
  assert.equal(t.headers['retry-after'], '7');
  assert.equal(t.json.error.code, 'ApplicationThrottled');
  assert.equal((await call('GET', '/me/mailFolders', { tok })).status, 200, 'only the queued requests fail');
  const c = await ctl('GET', 'counters');
  assert.equal(c.injected_failures, 4);
});

test('the request log never holds the token', async () => {
  const tok = await token('user=alice');
  await call('GET', '/me/mailFolders', { tok });
  const log = JSON.stringify(await ctl('GET', 'requests'));
  assert.ok(!log.includes(tok));
  assert.ok(log.includes('/v1.0/me/mailFolders'));
});
