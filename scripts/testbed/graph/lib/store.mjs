// In-memory mailboxes: folders, messages (raw MIME + Graph fields), and a per-mailbox change
// sequence that delta queries read (every create/update bumps a message's changeSeq; removals
// leave a tombstone in the folder they left).

import * as crypto from 'node:crypto';
import { buildMessage, parseMessage } from './mime.mjs';

// Bounds: a delivered message larger than this is refused; tombstones beyond this per
// mailbox are dropped oldest first (a delta link older than the oldest kept one is answered
// 410 SyncStateNotFound, as Graph does for expired sync state).
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
export const MAX_TOMBSTONES = 100000;

export const WELL_KNOWN = [
  ['inbox', 'Inbox'], ['drafts', 'Drafts'], ['sentitems', 'Sent Items'],
  ['deleteditems', 'Deleted Items'], ['archive', 'Archive'], ['junkemail', 'Junk Email'],
  ['outbox', 'Outbox'],
];

// Exchange ids are long base64 strings that may end in '=' and contain '-' and '_' (URL-safe
// alphabet): clients must escape them in paths, so ours look alike.
function newId(kind) {
  const tag = kind === 'folder' ? 'AQMkAD' : 'AAMkAG';
  return `${tag}${crypto.randomBytes(30).toString('base64url')}AAA=`;
}
export const ID_RE = /^AA[MQ]kA[DG][A-Za-z0-9_-]{40}AAA=$/;
const guid = () => crypto.randomUUID();
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class Mailbox {
  constructor(user) {
    this.user = user; // {name, address, displayName, id}
    this.folders = new Map();
    this.messages = new Map();
    this.tombstones = []; // {id, folderId, seq}
    this.tombstoneFloor = 0; // changes at or below this seq may have lost tombstones
    this.seq = 0;
    this.conversations = new Map(); // internetMessageId -> conversationId
    const root = this.addFolder(null, 'Top of Information Store', 'msgfolderroot');
    for (const [wk, name] of WELL_KNOWN) this.addFolder(root.id, name, wk);
  }

  addFolder(parentId, displayName, wellKnownName = null) {
    const f = { id: newId('folder'), parentFolderId: parentId, displayName, wellKnownName, isHidden: false };
    this.folders.set(f.id, f);
    return f;
  }

  root() { return this.folder('msgfolderroot'); }

  // id or well-known name (case-insensitive, as Graph) -> folder | undefined
  folder(ref) {
    if (this.folders.has(ref)) return this.folders.get(ref);
    const lower = String(ref).toLowerCase();
    for (const f of this.folders.values()) if (f.wellKnownName === lower) return f;
    return undefined;
  }

  children(folderId) {
    return [...this.folders.values()].filter((f) => f.parentFolderId === folderId);
  }

  messagesIn(folderId) {
    return [...this.messages.values()].filter((m) => m.folderId === folderId);
  }

  bump(msg) {
    this.seq += 1;
    msg.changeSeq = this.seq;
    // When the message came into its folder (delivered, moved or copied there): what a
    // delta round with changeType=created reports.
    if (msg.arrivalSeq === undefined) msg.arrivalSeq = this.seq;
    msg.changeKey = crypto.randomBytes(12).toString('base64');
    msg.lastModified = Date.now();
  }

  // Adds a message from raw MIME; `over` overrides fields (isRead, conversationId, dates).
  addRaw(folderId, raw, over = {}) {
    if (raw.length > MAX_MESSAGE_BYTES) throw new Error(`message larger than ${MAX_MESSAGE_BYTES} bytes`);
    const p = parseMessage(raw);
    const now = Date.now();
    let conversationId = over.conversationId;
    if (!conversationId) {
      for (const ref of [p.inReplyTo, ...p.references]) {
        if (ref && this.conversations.has(ref)) { conversationId = this.conversations.get(ref); break; }
      }
    }
    conversationId ??= `AAQkAG${crypto.randomBytes(24).toString('base64url')}=`;
    const messageId = p.messageId || `<${guid()}@fake.graph>`;
    this.conversations.set(messageId, conversationId);
    const msg = {
      id: newId('message'),
      folderId,
      raw,
      parsed: p,
      internetMessageId: messageId,
      conversationId,
      created: now,
      received: over.received ?? now,
      sent: p.sentDate ? p.sentDate.getTime() : now,
      isRead: over.isRead ?? false,
      isDraft: over.isDraft ?? false,
      flag: { flagStatus: 'notFlagged' },
      categories: [],
      importance: ['high', 'low'].includes(p.importance) ? p.importance : 'normal',
      inferenceClassification: 'focused',
      attachments: p.attachments.map((a) => ({ ...a, id: `AAMkAG${crypto.randomBytes(24).toString('base64url')}=` })),
    };
    this.bump(msg);
    this.messages.set(msg.id, msg);
    return msg;
  }

  // Composes MIME for a message the fake writes itself (sendMail JSON, reply, forward).
  compose(fields) {
    return buildMessage({ messageId: `<${guid()}@fake.graph>`, ...fields });
  }

  remove(msg) {
    this.messages.delete(msg.id);
    this.seq += 1;
    this.tombstones.push({ id: msg.id, folderId: msg.folderId, seq: this.seq });
    if (this.tombstones.length > MAX_TOMBSTONES) {
      const dropped = this.tombstones.splice(0, this.tombstones.length - MAX_TOMBSTONES);
      this.tombstoneFloor = dropped[dropped.length - 1].seq;
    }
  }

  // A move is a new item (new id) in the destination and a removal from the source.
  moveTo(msg, folderId) {
    this.remove(msg);
    const moved = { ...msg, id: newId('message'), folderId, arrivalSeq: undefined };
    this.bump(moved);
    this.messages.set(moved.id, moved);
    return moved;
  }

  copyTo(msg, folderId) {
    const copy = { ...msg, id: newId('message'), folderId, arrivalSeq: undefined, flag: { ...msg.flag }, categories: [...msg.categories], created: Date.now() };
    this.bump(copy);
    this.messages.set(copy.id, copy);
    return copy;
  }
}

// ---------------------------------------------------------------------------
// Graph JSON
// ---------------------------------------------------------------------------

const email = (a) => (a ? { emailAddress: { name: a.name, address: a.address } } : null);

export const MESSAGE_PROPS = ['id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'categories',
  'receivedDateTime', 'sentDateTime', 'hasAttachments', 'internetMessageId', 'subject', 'bodyPreview',
  'importance', 'parentFolderId', 'conversationId', 'conversationIndex', 'isDeliveryReceiptRequested',
  'isReadReceiptRequested', 'isRead', 'isDraft', 'webLink', 'inferenceClassification', 'body', 'sender',
  'from', 'toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo', 'flag', 'uniqueBody',
  'internetMessageHeaders'];
// Properties Graph leaves out unless $select names them.
const NOT_DEFAULT = ['uniqueBody', 'internetMessageHeaders'];

export function messageJson(msg, select) {
  const p = msg.parsed;
  const all = {
    id: msg.id,
    createdDateTime: iso(msg.created),
    lastModifiedDateTime: iso(msg.lastModified),
    changeKey: msg.changeKey,
    categories: msg.categories,
    receivedDateTime: iso(msg.received),
    sentDateTime: iso(msg.sent),
    hasAttachments: msg.attachments.some((a) => !a.isInline),
    internetMessageId: msg.internetMessageId,
    subject: p.subject,
    bodyPreview: p.text.replace(/\s+/g, ' ').trim().slice(0, 255),
    importance: msg.importance,
    parentFolderId: msg.folderId,
    conversationId: msg.conversationId,
    conversationIndex: Buffer.from(msg.conversationId).subarray(0, 22).toString('base64'),
    isDeliveryReceiptRequested: false,
    isReadReceiptRequested: false,
    isRead: msg.isRead,
    isDraft: msg.isDraft,
    webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(msg.id)}&exvsurl=1&viewmodel=ReadMessageItem`,
    inferenceClassification: msg.inferenceClassification,
    body: p.body,
    uniqueBody: p.body,
    sender: email(p.sender),
    from: email(p.from),
    toRecipients: p.to.map(email),
    ccRecipients: p.cc.map(email),
    bccRecipients: p.bcc.map(email),
    replyTo: p.replyTo.map(email),
    flag: msg.flag,
    internetMessageHeaders: p.headers,
  };
  const out = { '@odata.etag': `W/"${msg.changeKey}"` };
  const names = select ?? MESSAGE_PROPS.filter((n) => !NOT_DEFAULT.includes(n));
  out.id = all.id; // always there, as in Graph
  for (const n of names) out[n] = all[n];
  return out;
}

// What $filter / $orderby / $search read from a message.
export const MESSAGE_FILTER_FIELDS = {
  isRead: 'bool', isDraft: 'bool', hasAttachments: 'bool', subject: 'string', importance: 'enum',
  'from/emailAddress/address': 'string', 'from/emailAddress/name': 'string',
  'sender/emailAddress/address': 'string', receivedDateTime: 'date', sentDateTime: 'date',
  lastModifiedDateTime: 'date', createdDateTime: 'date', conversationId: 'string',
  internetMessageId: 'string', 'flag/flagStatus': 'enum', inferenceClassification: 'enum',
};
export const MESSAGE_SORTABLE = ['receivedDateTime', 'sentDateTime', 'lastModifiedDateTime', 'createdDateTime',
  'subject', 'isRead', 'importance', 'from/emailAddress/address', 'from/emailAddress/name', 'hasAttachments'];

export function messageField(msg, path) {
  const p = msg.parsed;
  switch (path) {
    case 'isRead': return msg.isRead;
    case 'isDraft': return msg.isDraft;
    case 'hasAttachments': return msg.attachments.some((a) => !a.isInline);
    case 'subject': return p.subject;
    case 'importance': return msg.importance;
    case 'from/emailAddress/address': return p.from?.address ?? null;
    case 'from/emailAddress/name': return p.from?.name ?? null;
    case 'sender/emailAddress/address': return p.sender?.address ?? null;
    case 'receivedDateTime': return Math.floor(msg.received / 1000) * 1000;
    case 'sentDateTime': return Math.floor(msg.sent / 1000) * 1000;
    case 'lastModifiedDateTime': return Math.floor(msg.lastModified / 1000) * 1000;
    case 'createdDateTime': return Math.floor(msg.created / 1000) * 1000;
    case 'conversationId': return msg.conversationId;
    case 'internetMessageId': return msg.internetMessageId;
    case 'flag/flagStatus': return msg.flag.flagStatus;
    case 'inferenceClassification': return msg.inferenceClassification;
    default: return undefined;
  }
}

export const FOLDER_PROPS = ['id', 'displayName', 'parentFolderId', 'childFolderCount', 'unreadItemCount',
  'totalItemCount', 'sizeInBytes', 'isHidden', 'wellKnownName'];

export function folderJson(mb, f, select) {
  const msgs = mb.messagesIn(f.id);
  const all = {
    id: f.id,
    displayName: f.displayName,
    parentFolderId: f.parentFolderId ?? mb.user.id,
    childFolderCount: mb.children(f.id).length,
    unreadItemCount: msgs.filter((m) => !m.isRead).length,
    totalItemCount: msgs.length,
    sizeInBytes: msgs.reduce((s, m) => s + m.raw.length, 0),
    isHidden: f.isHidden,
    wellKnownName: f.wellKnownName,
  };
  const out = { id: f.id };
  // wellKnownName is a beta property: only with $select, as in v1.0 it is not there at all.
  for (const n of select ?? FOLDER_PROPS.filter((x) => x !== 'wellKnownName')) out[n] = all[n];
  return out;
}

export function attachmentJson(a, withContent) {
  const out = {
    '@odata.type': '#microsoft.graph.fileAttachment',
    '@odata.mediaContentType': a.contentType,
    id: a.id,
    lastModifiedDateTime: null,
    name: a.name,
    contentType: a.contentType,
    size: a.bytes.length,
    isInline: a.isInline,
    contentId: a.contentId,
    contentLocation: null,
  };
  if (withContent) out.contentBytes = a.bytes.toString('base64');
  return out;
}
