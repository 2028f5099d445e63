// Reference check: Microsoft's Graph JavaScript client (@microsoft/microsoft-graph-client,
// pinned in package-lock.json) against the fake Graph server. A fake Microsoft's own client
// cannot use is wrong, so this exercises what mailbroker's Graph session will do: list folders,
// list with a filter and paging (PageIterator), MIME ($value), PATCH isRead, move, delete,
// sendMail (JSON and MIME), delta (nextLink to deltaLink, then a new arrival and a removal),
// $batch (BatchRequestContent / BatchResponseContent), and 429 ApplicationThrottled both as an
// error (retries off) and retried by the client's RetryHandler honouring Retry-After.
//
//   node graph_client_check.mjs ENV_FILE    (ENV_FILE: what `graph.sh start` printed)
//
// One line per check; exit 0 only when every check matched. NODE_EXTRA_CA_CERTS must name the
// testbed CA (graph.sh reference-check sets it). Tokens: minted by the control API, or, when
// OAUTH2_ENV names an oauth2.env and the fake checks tokens by introspection, a real
// client-credentials token from the test OAuth2 server.
import fs from 'node:fs';
import {
  BatchRequestContent, BatchResponseContent, Client, GraphError, PageIterator, RetryHandlerOptions,
} from '@microsoft/microsoft-graph-client';

const failures = [];
function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail ? ` -- ${detail}` : ''}`);
  if (!ok) failures.push(name);
  return ok;
}
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, `threw ${e.constructor?.name}: ${e.statusCode ?? ''} ${e.code ?? ''} ${e.message}`);
  }
}

function readEnv(file) {
  return Object.fromEntries(fs.readFileSync(file, 'utf8').split('\n')
    .filter((l) => l.includes('=') && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
const env = readEnv(process.argv[2]);
const control = env.CONTROL_URL;

async function ctl(method, path, query = {}, body = undefined) {
  const q = new URLSearchParams(query).toString();
  const r = await fetch(`${control}/${path}${q ? `?${q}` : ''}`, { method, body });
  if (!r.ok) throw new Error(`control ${path}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}
let seq = 0;
function rfc822(from, to, subject, minute) {
  seq += 1;
  return `From: ${from[0].toUpperCase()}${from.slice(1)} <${from}@testlab.test>\r\nTo: ${to}@testlab.test\r\nSubject: ${subject}\r\n`
    + `Message-ID: <ref-${seq}-${Date.now()}@testlab.test>\r\nDate: Mon, 01 Jan 2024 10:${String(minute).padStart(2, '0')}:00 +0000\r\n`
    + `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of ${subject}.\r\n`;
}
const deliver = (user, raw, extra = {}) => ctl('POST', 'deliver', { user, folder: 'inbox', ...extra }, raw);

async function tokenFor(user) {
  return (await ctl('POST', 'mint_token', { user })).access_token;
}

function client(token) {
  return Client.init({
    baseUrl: env.GRAPH_BASE_URL,
    defaultVersion: 'v1.0',
    authProvider: (done) => done(null, token),
    // The client only sends the token to Graph's own hosts and to these (host names, no port).
    customHosts: new Set([new URL(env.GRAPH_BASE_URL).hostname]),
  });
}
const noRetry = new RetryHandlerOptions(0, 0);

await ctl('POST', 'reset');
// 23 messages for alice: 15 from bob (7 read later), 8 from carol; received times spread.
const t0 = Date.parse('2024-02-01T08:00:00Z');
for (let i = 0; i < 23; i += 1) {
  const from = i < 15 ? 'bob' : 'carol';
  await deliver('alice', rfc822(from, 'alice', `ref message ${i}`, i), { received: new Date(t0 + i * 60000).toISOString() });
}
const alice = client(await tokenFor('alice'));

await step('list folders', async () => {
  const top = await alice.api('/me/mailFolders').top(50).get();
  const names = top.value.map((f) => f.displayName);
  check('list folders', ['Inbox', 'Sent Items', 'Deleted Items', 'Archive', 'Drafts'].every((n) => names.includes(n)), names.join(','));
  const inbox = await alice.api('/me/mailFolders/inbox').get();
  check('well-known inbox', inbox.displayName === 'Inbox' && inbox.totalItemCount === 23 && inbox.unreadItemCount === 23,
    JSON.stringify(inbox));
  const child = await alice.api('/me/mailFolders/inbox/childFolders').post({ displayName: 'Processed' });
  const children = await alice.api(`/me/mailFolders/${encodeURIComponent(inbox.id)}/childFolders`).get();
  check('childFolders', children.value.length === 1 && children.value[0].id === child.id && children.value[0].parentFolderId === inbox.id);
  // Default page of mailFolders is 10 with a nextLink; PageIterator follows it.
  for (let i = 0; i < 6; i += 1) await alice.api('/me/mailFolders').post({ displayName: `extra ${i}` });
  const seen = [];
  const it = new PageIterator(alice, await alice.api('/me/mailFolders').get(), (f) => { seen.push(f.displayName); return true; });
  await it.iterate();
  check('mailFolders paging (PageIterator)', seen.length === 13 && new Set(seen).size === 13, `${seen.length}: ${seen.join(',')}`);
});

let ids = [];
await step('list with filter and paging', async () => {
  const first = await alice.api('/me/mailFolders/inbox/messages')
    .filter("from/emailAddress/address eq 'bob@testlab.test'")
    .select('id,subject,from,receivedDateTime,isRead')
    .top(4)
    .get();
  check('first page has nextLink', first.value.length === 4 && typeof first['@odata.nextLink'] === 'string', JSON.stringify(Object.keys(first)));
  const got = [];
  const it = new PageIterator(alice, first, (m) => { got.push(m); return true; });
  await it.iterate();
  check('PageIterator walked every page', got.length === 15 && new Set(got.map((m) => m.id)).size === 15, `${got.length}`);
  check('filter applied', got.every((m) => m.from.emailAddress.address === 'bob@testlab.test'));
  check('$select honoured', got.every((m) => m.body === undefined && m.subject && m.receivedDateTime));
  check('default order newest first', got[0].subject === 'ref message 14' && got[14].subject === 'ref message 0', `${got[0].subject} .. ${got[14].subject}`);
  ids = got.map((m) => m.id);
  const dated = await alice.api('/me/mailFolders/inbox/messages')
    .filter('receivedDateTime ge 2024-02-01T08:10:00Z and isRead eq false')
    .orderby('receivedDateTime asc')
    .top(100)
    .get();
  check('date filter + orderby asc', dated.value.length === 13 && dated.value[0].subject === 'ref message 10', `${dated.value.length} ${dated.value[0]?.subject}`);
  try {
    await alice.api('/me/messages').orderby('subject').filter('isRead eq false').get();
    check('orderby not in filter refused', false, 'no error');
  } catch (e) {
    check('orderby not in filter refused', e instanceof GraphError && e.statusCode === 400 && e.code === 'InefficientFilter', `${e.statusCode} ${e.code}`);
  }
  try {
    await alice.api('/me/messages').query({ $expand: 'attachments', $bogus: 1 }).get();
    check('unknown query option refused', false, 'no error');
  } catch (e) {
    check('unknown query option refused', e instanceof GraphError && e.statusCode === 400 && e.code === 'BadRequest' && /\$bogus|\$expand/.test(e.message), `${e.statusCode} ${e.code} ${e.message}`);
  }
  const searched = await alice.api('/me/messages').search('"subject:message 2"').get();
  check('$search subject', searched.value.length >= 4 && searched.value.every((m) => m.subject.includes('message 2')), `${searched.value.length}`);
});

await step('get MIME', async () => {
  const mime = await alice.api(`/me/messages/${encodeURIComponent(ids[0])}/$value`).get();
  const text = typeof mime === 'string' ? mime : await new Response(mime).text();
  check('get MIME ($value)', text.includes('Subject: ref message 14') && text.includes('Body of ref message 14.'), text.slice(0, 80));
});

await step('patch isRead', async () => {
  const m = await alice.api(`/me/messages/${encodeURIComponent(ids[1])}`).patch({ isRead: true, flag: { flagStatus: 'flagged' } });
  check('patch isRead + flag', m.isRead === true && m.flag.flagStatus === 'flagged');
  const again = await alice.api(`/me/messages/${encodeURIComponent(ids[1])}`).select('isRead').get();
  check('patch persisted', again.isRead === true);
  try {
    await alice.api(`/me/messages/${encodeURIComponent(ids[1])}`).patch({ isRead: 'yes' });
    check('bad patch refused', false, 'no error');
  } catch (e) {
    check('bad patch refused', e.statusCode === 400, `${e.statusCode} ${e.code}`);
  }
});

await step('move', async () => {
  const moved = await alice.api(`/me/messages/${encodeURIComponent(ids[2])}/move`).post({ destinationId: 'archive' });
  const archive = await alice.api('/me/mailFolders/archive').get();
  check('move gives a new id in the destination', moved.id !== ids[2] && moved.parentFolderId === archive.id);
  try {
    await alice.api(`/me/messages/${encodeURIComponent(ids[2])}`).get();
    check('old id gone after move', false, 'still there');
  } catch (e) {
    check('old id gone after move (ErrorItemNotFound)', e.statusCode === 404 && e.code === 'ErrorItemNotFound', `${e.statusCode} ${e.code}`);
  }
});

await step('delete', async () => {
  await alice.api(`/me/messages/${encodeURIComponent(ids[3])}`).delete();
  const trash = await alice.api('/me/mailFolders/deleteditems/messages').select('subject').get();
  check('delete moves to Deleted Items', trash.value.length === 1 && trash.value[0].subject === 'ref message 11', JSON.stringify(trash.value));
  await alice.api(`/me/messages/${encodeURIComponent(trash.value[0].id)}/permanentDelete`).post({});
  const after = await alice.api('/me/mailFolders/deleteditems').get();
  check('permanentDelete', after.totalItemCount === 0);
});

await step('sendMail', async () => {
  await alice.api('/me/sendMail').post({
    message: { subject: 'from the reference client', body: { contentType: 'Text', content: 'hello bob' }, toRecipients: [{ emailAddress: { address: 'bob@testlab.test' } }] },
    saveToSentItems: true,
  });
  const bob = client(await tokenFor('bob'));
  const inbox = await bob.api('/me/mailFolders/inbox/messages').get();
  check('sendMail JSON delivered', inbox.value.length === 1 && inbox.value[0].subject === 'from the reference client' && inbox.value[0].body.content.includes('hello bob'));
  const sent = await alice.api('/me/mailFolders/sentitems/messages').get();
  check('sendMail saved to Sent Items', sent.value.length === 1);
  const mime = Buffer.from(rfc822('alice', 'bob', 'mime send', 1)).toString('base64');
  await alice.api('/me/sendMail').header('Content-Type', 'text/plain').post(mime);
  const inbox2 = await bob.api('/me/mailFolders/inbox/messages').filter("subject eq 'mime send'").get();
  check('sendMail MIME delivered', inbox2.value.length === 1);
  await bob.api(`/me/messages/${encodeURIComponent(inbox.value[0].id)}/reply`).post({ comment: 'thanks' });
  const replies = await alice.api('/me/mailFolders/inbox/messages').filter("subject eq 'RE: from the reference client'").get();
  check('reply keeps conversationId', replies.value.length === 1 && replies.value[0].conversationId === inbox.value[0].conversationId);
});

await step('delta', async () => {
  const carol = client(await tokenFor('carol'));
  for (let i = 0; i < 5; i += 1) await deliver('carol', rfc822('dave', 'carol', `delta ${i}`, i));
  const pages = [];
  const items = [];
  const first = await carol.api('/me/mailFolders/inbox/messages/delta').select('subject,isRead').top(2).get();
  const it = new PageIterator(carol, first, (m) => { items.push(m); return true; });
  pages.push(first);
  await it.iterate();
  const deltaLink = it.getDeltaLink();
  check('delta initial round via nextLinks', items.length === 5 && typeof deltaLink === 'string' && typeof first['@odata.nextLink'] === 'string', `${items.length} ${deltaLink}`);
  const empty = await carol.api(deltaLink).get();
  check('delta: nothing new', empty.value.length === 0 && typeof empty['@odata.deltaLink'] === 'string');
  await deliver('carol', rfc822('erin', 'carol', 'delta arrival', 30));
  await carol.api(`/me/messages/${encodeURIComponent(items[0].id)}`).delete();
  const next = await carol.api(empty['@odata.deltaLink']).get();
  const added = next.value.filter((m) => !m['@removed']);
  const removed = next.value.filter((m) => m['@removed']);
  check('delta: new arrival appears', added.length === 1 && added[0].subject === 'delta arrival', JSON.stringify(next.value));
  check('delta: removal appears', removed.length === 1 && removed[0].id === items[0].id);
  try {
    await carol.api('/me/mailFolders/inbox/messages/delta').query({ $deltatoken: 'bm90LWEtdG9rZW4' }).get();
    check('bad deltatoken refused', false, 'no error');
  } catch (e) {
    check('bad deltatoken refused', e.statusCode === 400 && e.code === 'SyncStateInvalid', `${e.statusCode} ${e.code}`);
  }
});

await step('$batch', async () => {
  const unread = await alice.api('/me/mailFolders/inbox/messages').filter('isRead eq false').select('id').top(3).get();
  const batch = new BatchRequestContent();
  const steps = unread.value.map((m, i) => ({
    id: String(i + 1),
    request: new Request(`${env.GRAPH_URL}/me/messages/${encodeURIComponent(m.id)}`, {
      method: 'PATCH', body: JSON.stringify({ isRead: true }), headers: { 'Content-Type': 'application/json' },
    }),
  }));
  steps.push({ id: '9', request: new Request(`${env.GRAPH_URL}/me/messages/AAMkAGnotthereAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`, { method: 'GET' }) });
  for (const s of steps) batch.addRequest(s);
  const raw = await alice.api('/$batch').post(await batch.getContent());
  const res = new BatchResponseContent(raw);
  const patched = [1, 2, 3].map((i) => res.getResponseById(String(i)));
  check('$batch PATCH isRead x3', patched.every((r) => r && r.status === 200), patched.map((r) => r?.status).join(','));
  const missing = res.getResponseById('9');
  const missingBody = missing ? await missing.json() : {};
  check('$batch sub-request error', missing?.status === 400 || (missing?.status === 404 && missingBody.error?.code === 'ErrorItemNotFound'), `${missing?.status} ${JSON.stringify(missingBody)}`);
  const still = await alice.api('/me/mailFolders/inbox/messages').filter('isRead eq false').select('id').top(100).get();
  check('$batch took effect', !still.value.some((m) => unread.value.some((u) => u.id === m.id)));
});

await step('throttling', async () => {
  await ctl('POST', 'delay', { ms: 400 });
  const dave = client(await tokenFor('dave'));
  const calls = Array.from({ length: 7 }, () => dave.api('/me/mailFolders/inbox').middlewareOptions([noRetry]).get()
    .then(() => 'ok', (e) => e));
  const out = await Promise.all(calls);
  const throttled = out.filter((e) => e instanceof GraphError && e.statusCode === 429);
  check('429 ApplicationThrottled over 4 in flight', out.filter((x) => x === 'ok').length === 4 && throttled.length === 3
    && throttled.every((e) => e.code === 'ApplicationThrottled'), out.map((x) => (x === 'ok' ? 'ok' : `${x.statusCode} ${x.code}`)).join(','));
  check('429 carries Retry-After', throttled.length > 0 && throttled[0].headers?.get('retry-after') === env.GRAPH_RETRY_AFTER,
    String(throttled[0]?.headers?.get?.('retry-after')));
  // With its default RetryHandler the client waits Retry-After and gets through.
  const before = (await ctl('GET', 'counters')).throttled;
  const retried = await Promise.all(Array.from({ length: 6 }, () => dave.api('/me/mailFolders/inbox').get().then(() => 'ok', (e) => e)));
  const c = await ctl('GET', 'counters');
  check('client RetryHandler honours Retry-After', retried.every((x) => x === 'ok') && c.throttled > before && c.max_in_flight.dave === 4,
    `${retried.map((x) => (x === 'ok' ? 'ok' : `${x.statusCode}`)).join(',')} throttled=${c.throttled} max=${c.max_in_flight.dave}`);
  await ctl('POST', 'delay', { ms: 0 });
});

await step('auth', async () => {
  const bad = client('not-a-token');
  try {
    await bad.api('/me/mailFolders').get();
    check('bad token refused', false, 'no error');
  } catch (e) {
    check('bad token -> 401 InvalidAuthenticationToken', e.statusCode === 401 && e.code === 'InvalidAuthenticationToken', `${e.statusCode} ${e.code}`);
  }
  try {
    await alice.api('/users/nobody@testlab.test/mailFolders').get();
    check('unknown mailbox', false, 'no error');
  } catch (e) {
    check('unknown mailbox -> 404 ErrorInvalidUser', e.statusCode === 404 && e.code === 'ErrorInvalidUser', `${e.statusCode} ${e.code}`);
  }
  const shared = await alice.api('/users/shared@testlab.test/mailFolders/inbox').get();
  check('delegated access to the shared mailbox', shared.displayName === 'Inbox');
});

if (env.GRAPH_OAUTH2_INTROSPECTION === 'yes' && process.env.OAUTH2_ENV) {
  await step('oauth2 introspection', async () => {
    const o = readEnv(process.env.OAUTH2_ENV);
    const r = await fetch(o.OAUTH2_TOKEN_URL, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${o.OAUTH2_CC_CLIENT_ID}:${o.OAUTH2_CC_CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: o.OAUTH2_SCOPE }),
    });
    const tok = (await r.json()).access_token;
    const app = client(tok);
    const f = await app.api(`/users/${o.OAUTH2_CC_MAIL_USER}@testlab.test/mailFolders/inbox`).get();
    check('app-only token from the OAuth2 server (introspected)', f.displayName === 'Inbox');
    try {
      await app.api('/me/mailFolders').get();
      check('/me refused for app-only', false, 'no error');
    } catch (e) {
      check('/me refused for app-only', e.statusCode === 400, `${e.statusCode} ${e.code}`);
    }
  });
}

console.log(failures.length ? `FAILED: ${failures.length} check(s): ${failures.join(', ')}` : 'all checks passed');
process.exit(failures.length ? 1 : 0);
