// The Graph v1.0 mail API: one request (top-level or a $batch sub-request) in, one response
// out ({status, headers, json} or {status, headers, body: Buffer}). Transport, auth and
// failure injection live in ../server.mjs; this file routes, throttles per mailbox and
// answers like Graph, errors included.

import * as crypto from 'node:crypto';
import {
  ODataError, checkOrderByWithFilter, evalFilter, parseFilter, parseOrderBy, parseQuery, parseSearch,
  parseSelect, parseSkip, parseTop,
} from './odata.mjs';
import {
  FOLDER_PROPS, ID_RE, MESSAGE_FILTER_FIELDS, MESSAGE_PROPS, MESSAGE_SORTABLE, attachmentJson, folderJson,
  messageField, messageJson,
} from './store.mjs';

export const DEFAULT_PAGE = 10; // Graph's default page size for messages and mailFolders
export const MAX_BATCH = 20; // Graph's $batch limit
export const MAX_DELTA_PAGE = 1000;

export class GraphError extends Error {
  constructor(status, code, message, headers = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}
const notFound = () => new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
const badRequest = (msg, code = 'BadRequest') => new GraphError(400, code, msg);

export function errorBody(code, message, requestId, clientRequestId) {
  return {
    error: {
      code,
      message,
      innerError: { date: new Date().toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': requestId, 'client-request-id': clientRequestId },
    },
  };
}

// ---------------------------------------------------------------------------
// Per-mailbox concurrency (Exchange Online: 4 concurrent requests per app per mailbox)
// ---------------------------------------------------------------------------

export class Throttle {
  constructor(counters, settings) {
    this.counters = counters;
    this.settings = settings;
    this.inFlight = new Map();
  }

  acquire(key, mailbox) {
    const n = (this.inFlight.get(key) ?? 0) + 1;
    if (n > this.settings.concurrency) {
      this.counters.throttled += 1;
      throw new GraphError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.',
        { 'Retry-After': String(this.settings.retry_after) });
    }
    this.inFlight.set(key, n);
    const c = this.counters;
    c.max_in_flight[mailbox] = Math.max(c.max_in_flight[mailbox] ?? 0, n);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.inFlight.get(key) - 1;
      if (left) this.inFlight.set(key, left); else this.inFlight.delete(key);
    };
  }

  snapshot() { return Object.fromEntries(this.inFlight); }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

function needPermission(principal, write) {
  const p = principal.permissions;
  const ok = write ? p.includes('Mail.ReadWrite') : p.includes('Mail.Read') || p.includes('Mail.ReadWrite');
  if (!ok) throw new GraphError(403, 'ErrorAccessDenied', `Access is denied. Check credentials and try again. (the token lacks ${write ? 'Mail.ReadWrite' : 'Mail.Read'})`);
}
function needSend(principal) {
  if (!principal.permissions.includes('Mail.Send')) {
    throw new GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again. (the token lacks Mail.Send)');
  }
}

function checkId(id) {
  if (!ID_RE.test(id)) throw badRequest('Id is malformed.', 'ErrorInvalidIdMalformed');
  return id;
}

function jsonBody(ctx, { required = true } = {}) {
  if (ctx.json !== undefined) return ctx.json;
  const type = (ctx.headers['content-type'] ?? '').toLowerCase();
  if (!ctx.body?.length) {
    if (required) throw badRequest('Empty Payload. JSON content expected.');
    return {};
  }
  if (!type.startsWith('application/json')) throw new GraphError(415, 'UnsupportedMediaType', `Content-Type '${type || '(none)'}' is not supported; send application/json.`);
  try {
    const v = JSON.parse(ctx.body.toString('utf8'));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (e) {
    throw badRequest(`Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format. (${e.message})`);
  }
}

function recipients(list, field) {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw badRequest(`Invalid value for '${field}': an array of recipients is expected.`, 'ErrorInvalidRecipients');
  return list.map((r, i) => {
    const a = r?.emailAddress?.address;
    if (typeof a !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(a)) {
      throw badRequest(`${field}[${i}].emailAddress.address is missing or not an e-mail address.`, 'ErrorInvalidRecipients');
    }
    return { name: r.emailAddress.name ?? a, address: a };
  });
}

function page(ctx, items, top, skip, extraQuery) {
  const slice = items.slice(skip, skip + top);
  const out = { '@odata.context': ctx.contextUrl, value: slice };
  if (skip + top < items.length) {
    const q = new URLSearchParams(extraQuery);
    q.set('$top', String(top));
    q.set('$skip', String(skip + top));
    out['@odata.nextLink'] = `${ctx.baseUrl}${ctx.path}?${q.toString().replace(/%24/g, '$')}`;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------

export class GraphApi {
  constructor({ config, users, mailboxes, counters, settings, deliverLocal }) {
    this.config = config;
    this.users = users; // [{name,address,displayName,id}]
    this.mailboxes = mailboxes; // Map name -> Mailbox
    this.counters = counters;
    this.settings = settings;
    this.throttle = new Throttle(counters, settings);
    this.deliverLocal = deliverLocal;
  }

  findUser(ref) {
    const r = decodeURIComponent(ref).toLowerCase();
    return this.users.find((u) => u.id === r || u.address.toLowerCase() === r || u.name === r);
  }

  // ctx: {method, path (after /v1.0), query, headers, body(Buffer)|json, principal, baseUrl}
  async handle(ctx) {
    const parts = ctx.path.split('/').filter(Boolean);
    let user;
    let rest;
    if (parts[0] === 'me') {
      if (ctx.principal.app) throw badRequest('/me request is only valid with delegated authentication flow.');
      user = this.findUser(ctx.principal.user ?? '');
      if (!user) throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${ctx.principal.user}' is invalid.`);
      rest = parts.slice(1);
    } else if (parts[0] === 'users' && parts[1]) {
      user = this.findUser(parts[1]);
      if (!user) {
        if (parts.length === 2) throw new GraphError(404, 'Request_ResourceNotFound', `Resource '${decodeURIComponent(parts[1])}' does not exist or one of its queried reference-property objects are not present.`);
        throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${decodeURIComponent(parts[1])}' is invalid.`);
      }
      rest = parts.slice(2);
    } else {
      throw badRequest(`Resource not found for the segment '${parts[0] ?? ''}'.`, 'BadRequest');
    }
    const p = ctx.principal;
    if (!p.app && p.user !== user.name && user.address.toLowerCase() !== String(p.user).toLowerCase()) {
      const grantees = this.config.delegates?.[user.name] ?? [];
      if (!grantees.includes(p.user)) throw new GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    }
    ctx.user = user;
    ctx.mb = this.mailboxes.get(user.name);
    // users('a%40b')/mailFolders('inbox')/messages: each key follows its collection.
    const ctxPath = rest.reduce((acc, seg, i) => (i % 2 ? `${acc}('${seg}')` : `${acc}/${seg}`), '');
    ctx.contextUrl = `${ctx.baseUrl}/$metadata#users('${encodeURIComponent(user.address)}')${ctxPath}`;
    if (rest.length === 0) {
      if (ctx.method !== 'GET') throw new GraphError(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
      parseQuery(ctx.query, ['$select']);
      return { status: 200, json: { '@odata.context': `${ctx.baseUrl}/$metadata#users/$entity`, id: user.id, displayName: user.displayName, mail: user.address, userPrincipalName: user.address } };
    }
    const release = this.throttle.acquire(`${p.clientId}|${user.name}`, user.name);
    try {
      if (this.settings.delay_ms > 0) await sleep(this.settings.delay_ms);
      return await this.route(ctx, rest);
    } finally {
      release();
    }
  }

  route(ctx, rest) {
    const [a, b, c, d] = rest;
    const m = ctx.method;
    const nope = () => { throw new GraphError(405, 'ErrorInvalidRequest', `The OData request is not supported: ${m} on this resource.`); };
    if (a === 'sendMail' && rest.length === 1) return m === 'POST' ? this.sendMail(ctx) : nope();
    if (a === 'mailFolders') {
      if (rest.length === 1) return m === 'GET' ? this.listFolders(ctx, ctx.mb.root()) : m === 'POST' ? this.createFolder(ctx, ctx.mb.root()) : nope();
      const folder = this.folderRef(ctx, b);
      if (rest.length === 2) return m === 'GET' ? this.getFolder(ctx, folder) : nope();
      if (c === 'childFolders' && rest.length === 3) return m === 'GET' ? this.listFolders(ctx, folder) : m === 'POST' ? this.createFolder(ctx, folder) : nope();
      if (c === 'messages') {
        if (rest.length === 3) return m === 'GET' ? this.listMessages(ctx, folder) : nope();
        if (d === 'delta' && rest.length === 4) return m === 'GET' ? this.delta(ctx, folder) : nope();
        return this.messageRoute(ctx, rest.slice(3), folder);
      }
      throw badRequest(`Resource not found for the segment '${c}'.`);
    }
    if (a === 'messages') {
      if (rest.length === 1) return m === 'GET' ? this.listMessages(ctx, null) : nope();
      return this.messageRoute(ctx, rest.slice(1), null);
    }
    throw badRequest(`Resource not found for the segment '${a}'.`);
  }

  folderRef(ctx, ref) {
    const dec = decodeURIComponent(ref);
    const f = ctx.mb.folder(dec);
    if (f) return f;
    if (/^[A-Za-z]+$/.test(dec)) throw badRequest(`Id is malformed. ('${dec}' is no well-known folder name)`, 'ErrorInvalidIdMalformed');
    checkId(dec);
    throw notFound();
  }

  messageRef(ctx, ref, folder) {
    const id = checkId(decodeURIComponent(ref));
    const msg = ctx.mb.messages.get(id);
    if (!msg || (folder && msg.folderId !== folder.id)) throw notFound();
    return msg;
  }

  messageRoute(ctx, rest, folder) {
    const m = ctx.method;
    const msg = this.messageRef(ctx, rest[0], folder);
    const nope = () => { throw new GraphError(405, 'ErrorInvalidRequest', `The OData request is not supported: ${m} on this resource.`); };
    if (rest.length === 1) {
      if (m === 'GET') return this.getMessage(ctx, msg);
      if (m === 'PATCH') return this.patchMessage(ctx, msg);
      if (m === 'DELETE') return this.deleteMessage(ctx, msg);
      return nope();
    }
    const op = rest[1];
    if (rest.length === 2 && op === '$value') {
      if (m !== 'GET') return nope();
      needPermission(ctx.principal, false);
      parseQuery(ctx.query, []);
      this.counters.mime_bytes += msg.raw.length;
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: msg.raw };
    }
    if (rest.length === 2 && ['move', 'copy', 'permanentDelete', 'reply', 'replyAll', 'forward'].includes(op)) {
      if (m !== 'POST') return nope();
      parseQuery(ctx.query, []);
      if (op === 'move' || op === 'copy') return this.moveCopy(ctx, msg, op);
      if (op === 'permanentDelete') {
        needPermission(ctx.principal, true);
        ctx.mb.remove(msg);
        return { status: 204 };
      }
      return this.respond(ctx, msg, op);
    }
    if (op === 'attachments') {
      if (m !== 'GET') return nope();
      needPermission(ctx.principal, false);
      if (rest.length === 2) {
        const q = parseQuery(ctx.query, ['$select', '$top', '$skip']);
        parseSelect(q.$select, ['id', 'name', 'contentType', 'size', 'isInline', 'lastModifiedDateTime', 'contentId', 'contentBytes'], 'microsoft.graph.attachment');
        return { status: 200, json: { '@odata.context': ctx.contextUrl, value: msg.attachments.map((x) => attachmentJson(x, true)) } };
      }
      const att = msg.attachments.find((x) => x.id === decodeURIComponent(rest[2]));
      if (!att) throw notFound();
      if (rest.length === 3) { parseQuery(ctx.query, ['$select']); return { status: 200, json: attachmentJson(att, true) }; }
      if (rest.length === 4 && rest[3] === '$value') return { status: 200, headers: { 'Content-Type': att.contentType }, body: att.bytes };
    }
    throw badRequest(`Resource not found for the segment '${op}'.`);
  }

  // --- folders -------------------------------------------------------------

  listFolders(ctx, parent) {
    needPermission(ctx.principal, false);
    const q = parseQuery(ctx.query, ['$select', '$top', '$skip', '$filter', '$count'], ['includeHiddenFolders']);
    const select = parseSelect(q.$select, FOLDER_PROPS, 'microsoft.graph.mailFolder');
    const filter = parseFilter(q.$filter, { displayName: 'string' });
    if (q.includeHiddenFolders !== undefined && !['true', 'false'].includes(q.includeHiddenFolders)) throw badRequest(`includeHiddenFolders must be true or false, got '${q.includeHiddenFolders}'.`);
    const hidden = q.includeHiddenFolders === 'true';
    const folders = ctx.mb.children(parent.id)
      .filter((f) => hidden || !f.isHidden)
      .filter((f) => evalFilter(filter, f, (x, path) => x[path]))
      .map((f) => folderJson(ctx.mb, f, select));
    const top = parseTop(q.$top) ?? DEFAULT_PAGE;
    const keep = {};
    for (const k of ['$select', '$filter', 'includeHiddenFolders']) if (q[k] !== undefined) keep[k] = q[k];
    const out = page(ctx, folders, top, parseSkip(q.$skip), keep);
    if (q.$count === 'true') out['@odata.count'] = folders.length;
    return { status: 200, json: out };
  }

  getFolder(ctx, folder) {
    needPermission(ctx.principal, false);
    const q = parseQuery(ctx.query, ['$select']);
    return { status: 200, json: { '@odata.context': ctx.contextUrl, ...folderJson(ctx.mb, folder, parseSelect(q.$select, FOLDER_PROPS, 'microsoft.graph.mailFolder')) } };
  }

  createFolder(ctx, parent) {
    needPermission(ctx.principal, true);
    parseQuery(ctx.query, []);
    const body = jsonBody(ctx);
    const name = body.displayName;
    if (typeof name !== 'string' || !name.trim()) throw badRequest('displayName is required.', 'ErrorInvalidRequest');
    if (ctx.mb.children(parent.id).some((f) => f.displayName.toLowerCase() === name.toLowerCase())) {
      throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    }
    const f = ctx.mb.addFolder(parent.id, name);
    f.isHidden = body.isHidden === true;
    return { status: 201, json: { '@odata.context': ctx.contextUrl, ...folderJson(ctx.mb, f) } };
  }

  // --- messages ------------------------------------------------------------

  listMessages(ctx, folder) {
    needPermission(ctx.principal, false);
    const q = parseQuery(ctx.query, ['$select', '$filter', '$orderby', '$top', '$skip', '$search', '$count']);
    const select = parseSelect(q.$select, MESSAGE_PROPS, 'microsoft.graph.message');
    const filter = parseFilter(q.$filter, MESSAGE_FILTER_FIELDS);
    const orderBy = parseOrderBy(q.$orderby, MESSAGE_SORTABLE);
    const search = parseSearch(q.$search);
    if (search && filter) throw badRequest("The query parameter '$filter' is not supported with '$search'.", 'ErrorInvalidUrlQuery');
    if (search && orderBy.length) throw badRequest('SearchWithOrderBy is not supported: $orderby cannot be combined with $search.', 'ErrorInvalidUrlQuery');
    if (search && q.$skip !== undefined) throw badRequest("The query parameter '$skip' is not supported with '$search'.", 'ErrorInvalidUrlQuery');
    checkOrderByWithFilter(orderBy, filter);
    let msgs = folder ? ctx.mb.messagesIn(folder.id) : [...ctx.mb.messages.values()];
    msgs = msgs.filter((x) => evalFilter(filter, x, messageField));
    if (search) {
      msgs = msgs.filter((x) => {
        const p = x.parsed;
        const hay = {
          subject: p.subject, body: p.text, from: `${p.from?.name ?? ''} ${p.from?.address ?? ''}`,
          to: p.to.map((t) => `${t.name} ${t.address}`).join(' '),
        };
        const fields = search.field ? [hay[search.field]] : Object.values(hay);
        return fields.some((h) => h.toLowerCase().includes(search.term));
      });
    }
    // Default order: newest received first (Graph's default for messages).
    const order = orderBy.length ? orderBy : [{ path: 'receivedDateTime', desc: true }];
    msgs.sort((x, y) => {
      for (const o of order) {
        const vx = messageField(x, o.path);
        const vy = messageField(y, o.path);
        if (vx === vy) continue;
        const lt = vx === null ? true : vy === null ? false : vx < vy;
        return (lt ? -1 : 1) * (o.desc ? -1 : 1);
      }
      return y.changeSeq - x.changeSeq;
    });
    const top = parseTop(q.$top) ?? DEFAULT_PAGE;
    const keep = {};
    for (const k of ['$select', '$filter', '$orderby', '$search']) if (q[k] !== undefined) keep[k] = q[k];
    const items = msgs.map((x) => messageJson(x, select));
    const out = page(ctx, items, top, parseSkip(q.$skip), keep);
    if (q.$count === 'true') out['@odata.count'] = items.length;
    this.counters.messages_listed += out.value.length;
    return { status: 200, json: out };
  }

  getMessage(ctx, msg) {
    needPermission(ctx.principal, false);
    const q = parseQuery(ctx.query, ['$select']);
    return { status: 200, json: { '@odata.context': `${ctx.contextUrl}/$entity`, ...messageJson(msg, parseSelect(q.$select, MESSAGE_PROPS, 'microsoft.graph.message')) } };
  }

  patchMessage(ctx, msg) {
    needPermission(ctx.principal, true);
    parseQuery(ctx.query, []);
    const body = jsonBody(ctx);
    const allowed = ['isRead', 'flag', 'categories', 'importance', 'inferenceClassification'];
    for (const k of Object.keys(body)) {
      if (k.startsWith('@odata.')) continue;
      if (!allowed.includes(k)) {
        if (MESSAGE_PROPS.includes(k)) throw badRequest(`The property '${k}' cannot be updated on a message that is not a draft (this fake only updates ${allowed.join(', ')}).`, 'ErrorInvalidPropertyUpdateSentMessage');
        throw badRequest(`The property '${k}' does not exist on type 'microsoft.graph.message'. Make sure to only use property names that are defined by the type.`);
      }
    }
    if (body.isRead !== undefined && typeof body.isRead !== 'boolean') throw badRequest("Cannot convert the literal to the expected type 'Edm.Boolean' (isRead).");
    if (body.flag !== undefined) {
      const s = body.flag?.flagStatus;
      if (!['notFlagged', 'flagged', 'complete'].includes(s)) throw badRequest(`flag.flagStatus must be notFlagged, flagged or complete, got '${s}'.`);
    }
    if (body.categories !== undefined && !(Array.isArray(body.categories) && body.categories.every((c) => typeof c === 'string'))) throw badRequest('categories must be an array of strings.');
    if (body.importance !== undefined && !['low', 'normal', 'high'].includes(body.importance)) throw badRequest('importance must be low, normal or high.');
    if (body.inferenceClassification !== undefined && !['focused', 'other'].includes(body.inferenceClassification)) throw badRequest('inferenceClassification must be focused or other.');
    if (body.isRead !== undefined) msg.isRead = body.isRead;
    if (body.flag !== undefined) msg.flag = { flagStatus: body.flag.flagStatus };
    if (body.categories !== undefined) msg.categories = [...body.categories];
    if (body.importance !== undefined) msg.importance = body.importance;
    if (body.inferenceClassification !== undefined) msg.inferenceClassification = body.inferenceClassification;
    ctx.mb.bump(msg);
    return { status: 200, json: { '@odata.context': `${ctx.contextUrl}/$entity`, ...messageJson(msg) } };
  }

  deleteMessage(ctx, msg) {
    needPermission(ctx.principal, true);
    parseQuery(ctx.query, []);
    const trash = ctx.mb.folder('deleteditems');
    // From Deleted Items it goes to Recoverable Items: gone from every folder view.
    if (msg.folderId === trash.id) ctx.mb.remove(msg); else ctx.mb.moveTo(msg, trash.id);
    return { status: 204 };
  }

  moveCopy(ctx, msg, op) {
    needPermission(ctx.principal, true);
    const body = jsonBody(ctx);
    const dest = body.destinationId;
    if (typeof dest !== 'string' || !dest) throw badRequest("The parameter 'destinationId' is required.", 'ErrorInvalidRequest');
    for (const k of Object.keys(body)) if (k !== 'destinationId') throw badRequest(`The parameter '${k}' in the request payload is not a valid parameter for the operation '${op}'.`);
    const folder = this.folderRef(ctx, dest);
    const out = op === 'move' ? ctx.mb.moveTo(msg, folder.id) : ctx.mb.copyTo(msg, folder.id);
    return { status: 201, json: { '@odata.context': `${ctx.contextUrl}/$entity`, ...messageJson(out) } };
  }

  // --- sending ---------------------------------------------------------------

  sendMail(ctx) {
    needSend(ctx.principal);
    parseQuery(ctx.query, []);
    const type = (ctx.headers['content-type'] ?? '').toLowerCase();
    let raw;
    let save = true;
    if (type.startsWith('text/plain')) {
      // MIME in base64 as the body (Graph's "send in MIME format").
      const text = (ctx.body ?? Buffer.alloc(0)).toString('latin1').replace(/\s+/g, '');
      if (!text || !/^[A-Za-z0-9+/]+=*$/.test(text)) throw badRequest('Invalid base64 string for MIME content.', 'ErrorMimeContentInvalidBase64String');
      raw = Buffer.from(text, 'base64');
      if (!/^[\x21-\x39\x3b-\x7e]+:/m.test(raw.toString('latin1').slice(0, 1000))) throw badRequest('The MIME content is not valid (no header fields).', 'ErrorMimeContentInvalid');
    } else {
      const body = jsonBody(ctx);
      const m = body.message;
      if (!m || typeof m !== 'object') throw badRequest("The parameter 'message' is required.", 'ErrorInvalidRequest');
      for (const k of Object.keys(body)) if (!['message', 'saveToSentItems'].includes(k)) throw badRequest(`The parameter '${k}' in the request payload is not a valid parameter for the operation 'sendMail'.`);
      if (body.saveToSentItems !== undefined && typeof body.saveToSentItems !== 'boolean') throw badRequest('saveToSentItems must be a boolean.');
      save = body.saveToSentItems !== false;
      raw = this.composeJson(ctx, m, {});
    }
    this.submit(ctx, raw, save, {});
    return { status: 202 };
  }

  composeJson(ctx, m, extra) {
    const to = recipients(m.toRecipients, 'toRecipients');
    const cc = recipients(m.ccRecipients, 'ccRecipients');
    const bcc = recipients(m.bccRecipients, 'bccRecipients');
    if (!extra.allowNoRecipients && to.length + cc.length + bcc.length === 0) throw badRequest('At least one recipient is required, but none were found.', 'ErrorInvalidRecipients');
    if (m.body !== undefined && (typeof m.body !== 'object' || !['text', 'html', 'Text', 'HTML'].includes(m.body.contentType ?? 'text'))) throw badRequest('body.contentType must be text or html.');
    const attachments = (m.attachments ?? []).map((a, i) => {
      if (a['@odata.type'] !== '#microsoft.graph.fileAttachment' || typeof a.name !== 'string' || typeof a.contentBytes !== 'string') {
        throw badRequest(`attachments[${i}] must be a #microsoft.graph.fileAttachment with name and contentBytes.`);
      }
      return { name: a.name, contentType: a.contentType ?? 'application/octet-stream', bytes: Buffer.from(a.contentBytes, 'base64') };
    });
    return ctx.mb.compose({
      from: { name: ctx.user.displayName, address: ctx.user.address },
      to, cc, bcc,
      subject: extra.subject ?? m.subject ?? '',
      body: { contentType: String(m.body?.contentType ?? 'text').toLowerCase(), content: m.body?.content ?? '' },
      inReplyTo: extra.inReplyTo, references: extra.references, attachments,
    });
  }

  // Copy in Sent Items, delivery to local users' inboxes; counts sends.
  submit(ctx, raw, save, over) {
    this.counters.sent += 1;
    if (save) ctx.mb.addRaw(ctx.mb.folder('sentitems').id, raw, { isRead: true, ...over });
    this.deliverLocal(raw, over);
  }

  respond(ctx, msg, op) {
    needSend(ctx.principal);
    const body = jsonBody(ctx, { required: false });
    for (const k of Object.keys(body)) if (!['comment', 'message', 'toRecipients'].includes(k)) throw badRequest(`The parameter '${k}' in the request payload is not a valid parameter for the operation '${op}'.`);
    if (body.comment !== undefined && typeof body.comment !== 'string') throw badRequest('comment must be a string.');
    const p = msg.parsed;
    const self = ctx.user.address.toLowerCase();
    let to;
    let cc = [];
    let prefix;
    if (op === 'forward') {
      to = recipients(body.toRecipients ?? body.message?.toRecipients, 'toRecipients');
      if (!to.length) throw badRequest('At least one recipient is required, but none were found.', 'ErrorInvalidRecipients');
      prefix = 'FW: ';
    } else {
      to = p.replyTo.length ? p.replyTo : p.from ? [p.from] : [];
      if (op === 'replyAll') {
        to = [...to, ...p.to.filter((a) => a.address.toLowerCase() !== self)];
        cc = p.cc.filter((a) => a.address.toLowerCase() !== self);
      }
      prefix = 'RE: ';
    }
    const subject = /^(re|fw|fwd):\s/i.test(p.subject) && prefix === 'RE: ' ? p.subject : `${prefix}${p.subject}`;
    const quoted = `${body.comment ?? ''}\r\n\r\n-----Original Message-----\r\nFrom: ${p.from?.address ?? ''}\r\nSubject: ${p.subject}\r\n\r\n${p.text}`;
    const raw = ctx.mb.compose({
      from: { name: ctx.user.displayName, address: ctx.user.address },
      to, cc, subject, body: { contentType: 'text', content: quoted },
      inReplyTo: msg.internetMessageId, references: [...p.references, msg.internetMessageId],
      attachments: op === 'forward' ? msg.attachments : [],
    });
    this.submit(ctx, raw, true, { conversationId: msg.conversationId });
    return { status: 202 };
  }

  // --- delta -----------------------------------------------------------------
  //
  // Tokens are opaque to clients: base64url JSON {f: folder id, s: seq already seen,
  // u: seq this round reads up to, o: offset, p: page size, sel: $select}. A nextLink
  // carries $skiptoken, the last page a deltaLink with $deltatoken (resume from u).

  delta(ctx, folder) {
    needPermission(ctx.principal, false);
    // changeType (created | updated | deleted) is Graph's custom query option for message
    // delta: rounds after the first report only that kind of change
    // (learn.microsoft.com/graph/delta-query-messages); the links carry it.
    const q = parseQuery(ctx.query, ['$select', '$top', '$skiptoken', '$deltatoken', '$filter', '$orderby'], ['changeType']);
    const mb = ctx.mb;
    let state;
    const token = q.$skiptoken ?? q.$deltatoken;
    if (q.$skiptoken !== undefined && q.$deltatoken !== undefined) throw badRequest('Only one of $skiptoken and $deltatoken may be given.');
    if (token !== undefined) {
      for (const k of ['$select', '$top', '$filter', '$orderby', 'changeType']) {
        if (q[k] !== undefined) throw badRequest(`Query option '${k}' must not be combined with a state token: the token carries the query.`);
      }
      try {
        state = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
        if (state.f !== folder.id || !Number.isInteger(state.s) || !Number.isInteger(state.o) || !Number.isInteger(state.p) || state.mb !== mb.user.name) throw new Error('wrong folder');
      } catch {
        throw badRequest('The sync state is invalid or does not belong to this folder.', 'SyncStateInvalid');
      }
      if (q.$deltatoken !== undefined) state = { ...state, s: state.u, u: mb.seq, o: 0 };
      if (state.s < mb.tombstoneFloor) throw new GraphError(410, 'SyncStateNotFound', 'The sync state is too old; start a new delta round without a token.');
    } else {
      if (q.$orderby !== undefined && !/^\s*receivedDateTime\s+desc\s*$/.test(q.$orderby)) throw badRequest('Delta on messages only supports $orderby=receivedDateTime desc.');
      const filter = parseFilter(q.$filter, { receivedDateTime: 'date' });
      if (filter && !['ge', 'gt'].includes(filter.op)) throw badRequest('Delta on messages only supports $filter=receivedDateTime ge|gt <date>.');
      parseSelect(q.$select, MESSAGE_PROPS, 'microsoft.graph.message');
      const preferMatch = /odata\.maxpagesize=(\d+)/.exec(ctx.headers.prefer ?? '');
      const size = parseTop(q.$top, MAX_DELTA_PAGE) ?? (preferMatch ? Math.min(Number(preferMatch[1]), MAX_DELTA_PAGE) : DEFAULT_PAGE);
      if (q.changeType !== undefined && !['created', 'updated', 'deleted'].includes(q.changeType)) {
        throw badRequest(`Invalid value '${q.changeType}' for changeType: created, updated or deleted.`);
      }
      state = { mb: mb.user.name, f: folder.id, s: 0, u: mb.seq, o: 0, p: Math.max(size, 1), sel: q.$select ?? null, flt: q.$filter ?? null, ct: q.changeType ?? null };
    }
    const select = state.sel ? state.sel.split(',') : undefined;
    const filter = state.flt ? parseFilter(state.flt, { receivedDateTime: 'date' }) : undefined;
    // The first round (s = 0) lists the folder whatever changeType says.
    const ct = state.s === 0 ? null : (state.ct ?? null);
    const wanted = (x) => ct === null || (ct === 'created' ? x.arrivalSeq > state.s : ct === 'updated' && x.arrivalSeq <= state.s);
    const changed = mb.messagesIn(folder.id)
      .filter((x) => x.changeSeq > state.s && x.changeSeq <= state.u && wanted(x) && evalFilter(filter, x, messageField))
      .map((x) => ({ seq: x.changeSeq, json: messageJson(x, select) }));
    const removed = state.s === 0 || (ct !== null && ct !== 'deleted') ? [] : mb.tombstones
      .filter((t) => t.folderId === folder.id && t.seq > state.s && t.seq <= state.u)
      .map((t) => ({ seq: t.seq, json: { '@odata.type': '#microsoft.graph.message', id: t.id, '@removed': { reason: 'deleted' } } }));
    const all = [...changed, ...removed].sort((x, y) => x.seq - y.seq);
    const slice = all.slice(state.o, state.o + state.p).map((x) => x.json);
    const out = { '@odata.context': `${ctx.contextUrl}/messages/delta`, value: slice };
    const link = (name, st) => `${ctx.baseUrl}${ctx.path}?${name}=${Buffer.from(JSON.stringify(st)).toString('base64url')}`;
    if (state.o + state.p < all.length) out['@odata.nextLink'] = link('$skiptoken', { ...state, o: state.o + state.p });
    else out['@odata.deltaLink'] = link('$deltatoken', { ...state, o: 0 });
    this.counters.delta_items += slice.length;
    return { status: 200, json: out };
  }
}

// ---------------------------------------------------------------------------
// $batch
// ---------------------------------------------------------------------------

// run(sub) -> response for one sub-request ({method, path, query, headers, body|json}).
export async function runBatch(ctx, run) {
  const body = jsonBody(ctx);
  const reqs = body.requests;
  if (!Array.isArray(reqs) || reqs.length === 0) throw badRequest("Invalid batch payload: 'requests' must be a non-empty array.", 'BadRequest');
  if (reqs.length > MAX_BATCH) throw badRequest(`Number of requests in batch exceeds ${MAX_BATCH}.`, 'BadRequest');
  const ids = new Set();
  for (const [i, r] of reqs.entries()) {
    if (!r || typeof r !== 'object') throw badRequest(`Invalid batch payload: requests[${i}] is not an object.`);
    if (typeof r.id !== 'string' || !r.id) throw badRequest(`Invalid batch payload: requests[${i}].id is required (a string).`);
    if (ids.has(r.id)) throw badRequest(`Invalid batch payload: duplicate request id '${r.id}'.`);
    ids.add(r.id);
    if (!['GET', 'POST', 'PATCH', 'PUT', 'DELETE'].includes(String(r.method).toUpperCase())) throw badRequest(`Invalid batch payload: requests[${i}].method '${r.method}' is not an HTTP method.`);
    if (typeof r.url !== 'string' || !r.url.startsWith('/') || /^\/\//.test(r.url)) throw badRequest(`Invalid batch payload: requests[${i}].url must be relative to the version, e.g. '/me/messages'.`);
    if (r.body !== undefined && !Object.keys(r.headers ?? {}).some((h) => h.toLowerCase() === 'content-type')) {
      throw badRequest(`Invalid batch payload: requests[${i}] has a body but no Content-Type header.`);
    }
    for (const d of r.dependsOn ?? []) {
      if (!ids.has(d)) throw badRequest(`Invalid batch payload: requests[${i}].dependsOn names '${d}', which is not an earlier request.`);
    }
  }
  const results = new Map();
  const responses = [];
  for (const r of reqs) {
    let res;
    const failedDep = (r.dependsOn ?? []).find((d) => results.get(d) >= 400);
    if (failedDep) {
      res = { status: 424, json: errorBody('FailedDependency', `The dependent request '${failedDep}' failed.`, crypto.randomUUID(), crypto.randomUUID()) };
    } else {
      let url = r.url;
      if (url.startsWith('/v1.0/')) url = url.slice(5); // Microsoft's BatchRequestContent keeps the version
      const qi = url.indexOf('?');
      const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
      const sub = {
        method: String(r.method).toUpperCase(),
        path: qi < 0 ? url : url.slice(0, qi),
        query: qi < 0 ? '' : url.slice(qi + 1),
        headers,
      };
      if (r.body !== undefined) {
        if ((headers['content-type'] ?? '').startsWith('application/json')) sub.json = typeof r.body === 'string' ? JSON.parse(r.body) : r.body;
        else sub.body = Buffer.from(String(r.body), typeof r.body === 'string' && !headers['content-type']?.startsWith('text/plain') ? 'utf8' : 'utf8');
      }
      res = await run(sub);
    }
    results.set(r.id, res.status);
    const out = { id: r.id, status: res.status, headers: { ...(res.headers ?? {}) } };
    if (res.json !== undefined) {
      out.headers['Content-Type'] = 'application/json';
      out.body = res.json;
    } else if (res.body !== undefined) {
      out.body = res.body.toString('base64');
    }
    responses.push(out);
  }
  return { status: 200, json: { responses } };
}
