// Reference check: ews-javascript-api (a port of Microsoft's EWS Managed API, pinned in
// package-lock.json) against the fake EWS server.
//
//   node ewsjs_check.mjs ENV_FILE      (ENV_FILE: what `ews.sh start` printed)
//
// The same mail flow with Basic and with NTLM (@ewsjs/xhr's NTLM provider): folders (Bind,
// FindFolders shallow + deep), FindItems with filters and paging, MIME, IsRead and follow-up
// flag, move, delete (three kinds), send, reply, pull subscription + GetEvents with watermark
// resume, a streaming subscription; then errors a strict server must give. Exit 0 only when
// every check matched. NODE_EXTRA_CA_CERTS must name the testbed CA (ews.sh sets it).
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ews = require('ews-javascript-api');
const { XhrApi } = require('@ewsjs/xhr');

const failures = [];
function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail ? ' -- ' + detail : ''}`);
  if (!ok) failures.push(name);
  return ok;
}
function errorName(e) {
  // A SOAP fault rejects with the port's SoapFaultDetails: the fault's e:ResponseCode is in
  // .ResponseCode (its .ErrorCode only reflects an <e:ErrorCode> detail, absent in EWS faults).
  if (e && e.ResponseCode !== undefined && !e.ErrorCode) return ews.ServiceError[e.ResponseCode];
  if (e && e.ErrorCode !== undefined) return ews.ServiceError[e.ErrorCode];
  return e && (e.message || String(e));
}
async function expectError(name, code, fn) {
  try {
    await fn();
  } catch (e) {
    return check(name, errorName(e) === code, `expected ${code}, got ${errorName(e)}: ${e.message}`);
  }
  return check(name, false, `expected ${code}, got no error`);
}

const env = Object.fromEntries(fs.readFileSync(process.argv[2], 'utf8').split('\n')
  .filter((l) => l.includes('=') && !l.startsWith('#'))
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const control = env.CONTROL_URL;

async function ctl(method, path, query = {}, body = undefined) {
  const q = new URLSearchParams(query).toString();
  const r = await fetch(`${control}/${path}${q ? '?' + q : ''}`, { method, body });
  if (!r.ok) throw new Error(`control ${path}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}
let seq = 0;
function message(sender, subject) {
  seq += 1;
  return `From: ${sender} <${sender}@testlab.test>\r\nTo: alice@testlab.test\r\nSubject: ${subject}\r\n`
    + `Message-ID: <js-${seq}-${Date.now()}@testlab.test>\r\nDate: Mon, 01 Jan 2024 11:${String(seq % 60).padStart(2, '0')}:00 +0000\r\n`
    + `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of ${subject}.\r\n`;
}
const deliver = (user, raw, folder = 'INBOX') => ctl('POST', 'deliver', { user, folder }, raw);

function service(user, auth) {
  const svc = new ews.ExchangeService(ews.ExchangeVersion.Exchange2013_SP1);
  svc.Url = new ews.Uri(env.EWS_URL);
  const password = env[`${user.toUpperCase()}_PASSWORD`];
  if (auth === 'NTLM') {
    ews.ConfigurationApi.ConfigureXHR(new XhrApi({ rejectUnauthorized: true })
      .useNtlmAuthentication(`TESTLAB\\${user}`, password));
    svc.Credentials = new ews.WebCredentials(`TESTLAB\\${user}`, password);
  } else {
    ews.ConfigurationApi.ConfigureXHR(new XhrApi({ rejectUnauthorized: true }));
    svc.Credentials = new ews.WebCredentials(`${user}@testlab.test`, password);
  }
  return svc;
}

const W = ews.WellKnownFolderName;

async function findAll(svc, folder, filter, pageSize, order) {
  const out = [];
  let offset = 0;
  for (let pages = 0; pages < 20; pages++) {
    const view = new ews.ItemView(pageSize, offset, ews.OffsetBasePoint.Beginning);
    view.PropertySet = new ews.PropertySet(ews.BasePropertySet.IdOnly, [ews.ItemSchema.Subject, ews.EmailMessageSchema.IsRead]);
    if (order) view.OrderBy.Add(ews.ItemSchema.DateTimeReceived, ews.SortDirection.Descending);
    const res = filter ? await svc.FindItems(folder, filter, view) : await svc.FindItems(folder, view);
    out.push(...res.Items);
    if (!res.MoreAvailable) return { items: out, pages: pages + 1, total: res.TotalCount };
    offset = res.NextPageOffset;
  }
  throw new Error('paging did not end');
}

async function byId(svc, id, props = []) {
  return ews.EmailMessage.Bind(svc, id, new ews.PropertySet(ews.BasePropertySet.FirstClassProperties, props));
}

async function bySubject(svc, folder, subject) {
  const f = new ews.SearchFilter.IsEqualTo(ews.ItemSchema.Subject, subject);
  const res = await svc.FindItems(folder, f, new ews.ItemView(10));
  if (res.Items.length !== 1) throw new Error(`expected one '${subject}', found ${res.Items.length}`);
  return byId(svc, res.Items[0].Id);
}

async function flow(auth) {
  const tag = `[${auth}]`;
  await ctl('POST', 'reset');
  for (let i = 1; i <= 7; i++) await deliver('alice', message('bob', `Job ${i}`));
  for (let i = 1; i <= 3; i++) await deliver('alice', message('carol', `Note ${i}`));
  await deliver('alice', message('bob', 'Planning'), 'INBOX/Projects');
  const svc = service('alice', auth);

  // folders
  const inbox = await ews.Folder.Bind(svc, W.Inbox);
  check(`${tag} GetFolder inbox`, inbox.DisplayName === 'Inbox' && inbox.TotalCount === 10 && inbox.ChildFolderCount === 1,
    `${inbox.DisplayName} ${inbox.TotalCount} ${inbox.ChildFolderCount}`);
  const shallow = await svc.FindFolders(W.Inbox, new ews.FolderView(10));
  check(`${tag} FindFolders shallow`, shallow.Folders.map((f) => f.DisplayName).join() === 'Projects');
  const deepView = new ews.FolderView(100);
  deepView.Traversal = ews.FolderTraversal.Deep;
  const deep = (await svc.FindFolders(W.MsgFolderRoot, deepView)).Folders.map((f) => f.DisplayName);
  check(`${tag} FindFolders deep`, ['Inbox', 'Projects', 'Sent Items', 'Deleted Items', 'Drafts'].every((n) => deep.includes(n)),
    deep.join());
  const projects = shallow.Folders[0];

  // find with a filter + paging
  const jobsFilter = new ews.SearchFilter.ContainsSubstring(ews.ItemSchema.Subject, 'job',
    ews.ContainmentMode.Substring, ews.ComparisonMode.IgnoreCase);
  const jobs = await findAll(svc, W.Inbox, jobsFilter, 3, true);
  check(`${tag} FindItems Contains + paging (7 jobs in pages of 3)`,
    jobs.items.map((m) => m.Subject).join() === 'Job 7,Job 6,Job 5,Job 4,Job 3,Job 2,Job 1' && jobs.pages === 3 && jobs.total === 7,
    `${jobs.items.map((m) => m.Subject)} pages=${jobs.pages} total=${jobs.total}`);
  const unread = await findAll(svc, W.Inbox, new ews.SearchFilter.IsEqualTo(ews.EmailMessageSchema.IsRead, false), 50);
  check(`${tag} FindItems IsEqualTo IsRead=false`, unread.items.length === 10, String(unread.items.length));
  const andFilter = new ews.SearchFilter.SearchFilterCollection(ews.LogicalOperator.And, [
    new ews.SearchFilter.ContainsSubstring(ews.EmailMessageSchema.From, 'carol', ews.ContainmentMode.Substring, ews.ComparisonMode.IgnoreCase),
    new ews.SearchFilter.IsGreaterThanOrEqualTo(ews.ItemSchema.DateTimeReceived, new ews.DateTime(Date.now() - 3600e3)),
  ]);
  const fromCarol = await findAll(svc, W.Inbox, andFilter, 50);
  check(`${tag} FindItems And(Contains From, DateTimeReceived >=)`, fromCarol.items.length === 3, String(fromCarol.items.length));

  // MIME
  const job3 = await bySubject(svc, W.Inbox, 'Job 3');
  const withMime = await byId(svc, job3.Id, [ews.ItemSchema.MimeContent]);
  const mime = Buffer.from(withMime.MimeContent.Content, 'base64').toString('utf8');
  check(`${tag} GetItem MimeContent`, mime.includes('Subject: Job 3') && mime.includes('Body of Job 3.'), mime.slice(0, 80));

  // IsRead + flag
  const oldKey = job3.Id.ChangeKey;
  job3.IsRead = true;
  await job3.Update(ews.ConflictResolutionMode.AutoResolve);
  const reread = await byId(svc, job3.Id);
  check(`${tag} UpdateItem IsRead (new ChangeKey)`, reread.IsRead === true && reread.Id.ChangeKey !== oldKey);
  const flag = new ews.Flag();
  flag.FlagStatus = ews.ItemFlagStatus.Flagged;
  reread.Flag = flag;
  await reread.Update(ews.ConflictResolutionMode.AutoResolve);
  const flagged = await byId(svc, job3.Id, [ews.ItemSchema.Flag]);
  check(`${tag} UpdateItem item:Flag`, flagged.Flag && flagged.Flag.FlagStatus === ews.ItemFlagStatus.Flagged,
    flagged.Flag && String(flagged.Flag.FlagStatus));
  const stale = await bySubject(svc, W.Inbox, 'Job 4');
  const fresh = await bySubject(svc, W.Inbox, 'Job 4');
  fresh.IsRead = true;
  await fresh.Update(ews.ConflictResolutionMode.AutoResolve);
  stale.IsRead = false;
  await expectError(`${tag} stale ChangeKey + NeverOverwrite -> ErrorIrresolvableConflict`, 'ErrorIrresolvableConflict',
    () => stale.Update(ews.ConflictResolutionMode.NeverOverwrite));

  // move, delete
  const job5 = await bySubject(svc, W.Inbox, 'Job 5');
  const moved = await job5.Move(projects.Id);
  check(`${tag} MoveItem gives a new id`, moved && moved.Id.UniqueId !== job5.Id.UniqueId);
  await expectError(`${tag} old id after move -> ErrorItemNotFound`, 'ErrorItemNotFound', () => byId(svc, job5.Id));
  await (await bySubject(svc, W.Inbox, 'Job 6')).Delete(ews.DeleteMode.MoveToDeletedItems);
  const trash = await findAll(svc, W.DeletedItems, null, 10);
  check(`${tag} DeleteItem MoveToDeletedItems`, trash.items.map((m) => m.Subject).join() === 'Job 6');
  await (await bySubject(svc, W.Inbox, 'Job 7')).Delete(ews.DeleteMode.SoftDelete);
  await (await bySubject(svc, W.Inbox, 'Job 2')).Delete(ews.DeleteMode.HardDelete);
  const left = (await findAll(svc, W.Inbox, jobsFilter, 50)).items.map((m) => m.Subject).sort();
  check(`${tag} DeleteItem SoftDelete + HardDelete`, left.join() === 'Job 1,Job 3,Job 4', left.join());

  // send, reply
  const m = new ews.EmailMessage(svc);
  m.Subject = `Report ${auth}`;
  m.Body = new ews.MessageBody(ews.BodyType.Text, 'Numbers attached.');
  m.ToRecipients.Add('bob@testlab.test');
  await m.SendAndSaveCopy();
  const sent = await findAll(svc, W.SentItems, new ews.SearchFilter.IsEqualTo(ews.ItemSchema.Subject, `Report ${auth}`), 10);
  check(`${tag} CreateItem SendAndSaveCopy: copy in Sent Items`, sent.items.length === 1);
  const bob = service('bob', auth);
  const atBob = await bySubject(bob, W.Inbox, `Report ${auth}`);
  check(`${tag} sent message delivered to bob`, atBob.From && atBob.From.Address === 'alice@testlab.test');
  await atBob.Reply(new ews.MessageBody(ews.BodyType.Text, 'Thanks.'), false);
  ews.ConfigurationApi.ConfigureXHR(service('alice', auth) && (auth === 'NTLM'
    ? new XhrApi({ rejectUnauthorized: true }).useNtlmAuthentication('TESTLAB\\alice', env.ALICE_PASSWORD)
    : new XhrApi({ rejectUnauthorized: true })));
  const reply = await bySubject(svc, W.Inbox, `RE: Report ${auth}`);
  const sentCopy = await byId(svc, sent.items[0].Id, [ews.ItemSchema.ConversationId]);
  const replyConv = await byId(svc, reply.Id, [ews.ItemSchema.ConversationId]);
  check(`${tag} ReplyToItem reaches alice in the same conversation`,
    replyConv.ConversationId && replyConv.ConversationId.UniqueId === sentCopy.ConversationId.UniqueId);

  // pull subscription + GetEvents, resume from a watermark
  const inboxId = new ews.FolderId(W.Inbox);
  const sub = await svc.SubscribeToPullNotifications([inboxId], 5, null, ews.EventType.NewMail);
  await deliver('alice', message('carol', 'Pulled 1'));
  const ev1 = await sub.GetEvents();
  const newMail1 = ev1.ItemEvents.filter((e) => e.EventType === ews.EventType.NewMail);
  check(`${tag} Subscribe pull + GetEvents: NewMailEvent`, newMail1.length === 1, String(ev1.AllEvents.length));
  const wm = sub.Watermark;
  await deliver('alice', message('carol', 'Pulled 2'));
  await sub.Unsubscribe();
  const sub2 = await svc.SubscribeToPullNotifications([inboxId], 5, wm, ews.EventType.NewMail);
  const ev2 = await sub2.GetEvents();
  const again = ev2.ItemEvents.filter((e) => e.EventType === ews.EventType.NewMail);
  check(`${tag} resume from watermark: arrival after it redelivered`, again.length === 1
    && (await byId(svc, again[0].ItemId)).Subject === 'Pulled 2', String(again.length));
  await sub2.Unsubscribe();

  // streaming subscription
  const ssub = await svc.SubscribeToStreamingNotifications([inboxId], ews.EventType.NewMail);
  const conn = new ews.StreamingSubscriptionConnection(svc, 1);
  conn.AddSubscription(ssub);
  const got = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no streaming notification within 20 s')), 20000);
    conn.OnNotificationEvent.push((_, args) => {
      const mails = args.Events.filter((e) => e.EventType === ews.EventType.NewMail);
      if (mails.length) { clearTimeout(timer); resolve(mails); }
    });
    conn.OnSubscriptionError.push((_, args) => { clearTimeout(timer); reject(args.Exception || new Error('subscription error')); });
  });
  // Open() resolves only when the hanging request ends (after the connection's lifetime).
  const opened = conn.Open().catch((e) => e);
  setTimeout(() => deliver('alice', message('carol', 'Streamed')), 1000);
  try {
    const mails = await got;
    check(`${tag} Subscribe streaming + GetStreamingEvents: NewMailEvent`, mails.length === 1
      && (await byId(svc, mails[0].ItemId)).Subject === 'Streamed');
  } catch (e) {
    check(`${tag} Subscribe streaming + GetStreamingEvents: NewMailEvent`, false, e.message);
  } finally {
    try { conn.Close(); } catch { /* already closed */ }
    await Promise.race([opened, new Promise((r) => setTimeout(r, 2000))]);
  }
}

async function errors() {
  const tag = '[errors]';
  const svc = service('alice', 'Basic');
  await expectError(`${tag} malformed id -> ErrorInvalidIdMalformed`, 'ErrorInvalidIdMalformed',
    () => ews.EmailMessage.Bind(svc, new ews.ItemId('bm90LWFuLWlk')));
  const carolInbox = new ews.FolderId(W.Inbox, new ews.Mailbox('carol@testlab.test'));
  await expectError(`${tag} delegate: alice on carol's inbox -> ErrorAccessDenied`, 'ErrorAccessDenied',
    () => ews.Folder.Bind(svc, carolInbox));
  const bobInbox = await ews.Folder.Bind(svc, new ews.FolderId(W.Inbox, new ews.Mailbox('bob@testlab.test')));
  check(`${tag} delegate: alice reads bob's inbox (granted)`, bobInbox.DisplayName === 'Inbox');
  const svcAcct = service('svc', 'Basic');
  svcAcct.ImpersonatedUserId = new ews.ImpersonatedUserId(ews.ConnectingIdType.SmtpAddress, 'carol@testlab.test');
  check(`${tag} impersonation: svc acts as carol`, (await ews.Folder.Bind(svcAcct, W.Inbox)).DisplayName === 'Inbox');
  const alice = service('alice', 'Basic');
  alice.ImpersonatedUserId = new ews.ImpersonatedUserId(ews.ConnectingIdType.SmtpAddress, 'carol@testlab.test');
  await expectError(`${tag} impersonation by alice -> ErrorImpersonateUserDenied`, 'ErrorImpersonateUserDenied',
    () => ews.Folder.Bind(alice, W.Inbox));
  await ctl('POST', 'busy', { count: 1, backoff_ms: 250 });
  await expectError(`${tag} ErrorServerBusy`, 'ErrorServerBusy', () => ews.Folder.Bind(svc, W.Inbox));
}

async function main() {
  for (const auth of ['Basic', 'NTLM']) {
    try {
      await flow(auth);
    } catch (e) {
      console.error(e);
      check(`[${auth}] flow ran to the end`, false, `${errorName(e)}: ${e.message}`);
    }
  }
  try {
    await errors();
  } catch (e) {
    console.error(e);
    check('[errors] ran to the end', false, `${errorName(e)}: ${e.message}`);
  }
  console.log(`ews-javascript-api check: ${failures.length ? 'FAILED: ' + failures.join(', ') : 'all checks passed'}`);
  process.exit(failures.length ? 1 : 0);
}

main();
