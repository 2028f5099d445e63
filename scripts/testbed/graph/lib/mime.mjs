// RFC 5322 / MIME: just enough to turn a delivered raw message into Graph's message fields
// (subject, addresses, dates, text/html body, attachments) and to write the MIME of a message
// the fake composes (sendMail JSON, reply, forward). Pure functions, no I/O.

import * as crypto from 'node:crypto';

// Bounds for parsing: deeper nesting or more parts than this are treated as opaque.
export const MAX_MIME_DEPTH = 8;
export const MAX_MIME_PARTS = 200;

function splitHeaderBody(buf) {
  const text = buf.toString('latin1');
  let idx = text.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = text.indexOf('\n\n');
  if (idx < 0 || (lf >= 0 && lf < idx)) { idx = lf; sep = 2; }
  if (idx < 0) return { head: text, body: Buffer.alloc(0) };
  return { head: text.slice(0, idx), body: buf.subarray(idx + sep) };
}

// -> [[lowercased name, raw value (unfolded)], ...]
export function parseHeaders(head) {
  const out = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) {
      out[out.length - 1][1] += ` ${line.trim()}`;
    } else {
      const c = line.indexOf(':');
      if (c > 0) out.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()]);
    }
  }
  return out;
}

function decodeCharset(bytes, charset) {
  const cs = (charset || 'utf-8').toLowerCase();
  try {
    return new TextDecoder(cs === 'us-ascii' ? 'utf-8' : cs).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}

// RFC 2047 encoded words in header values (header bytes are taken as UTF-8).
export function decodeWords(value) {
  const utf8 = Buffer.from(value, 'latin1').toString('utf8');
  return utf8.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (_m, cs, enc, data) => {
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return decodeCharset(bytes, cs.split('*')[0]);
  });
}

// 'Name <a@b>, c@d' -> [{name, address}]
export function parseAddressList(value) {
  if (!value) return [];
  const out = [];
  const parts = [];
  let cur = '';
  let quoted = false;
  let angle = false;
  for (const ch of decodeWords(value)) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '<') angle = true;
    if (!quoted && ch === '>') angle = false;
    if (ch === ',' && !quoted && !angle) { parts.push(cur); cur = ''; } else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    const s = p.trim();
    if (!s) continue;
    const m = /^(.*?)<([^>]*)>\s*$/.exec(s);
    if (m) {
      const name = m[1].trim().replace(/^"(.*)"$/, '$1');
      out.push({ name: name || m[2].trim(), address: m[2].trim() });
    } else {
      out.push({ name: s, address: s });
    }
  }
  return out;
}

function param(value, name) {
  const m = new RegExp(`;\\s*${name}\\*?=\\s*("([^"]*)"|[^;\\s]+)`, 'i').exec(value || '');
  if (!m) return undefined;
  return m[2] !== undefined ? m[2] : m[1];
}

function decodeBody(buf, cte) {
  const enc = (cte || '').toLowerCase();
  if (enc === 'base64') return Buffer.from(buf.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (enc === 'quoted-printable') {
    const s = buf.toString('latin1').replace(/=\r?\n/g, '');
    return Buffer.from(s.replace(/=([0-9A-Fa-f]{2})/g, (_x, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  }
  return buf;
}

function walk(buf, depth, acc) {
  if (acc.count >= MAX_MIME_PARTS) return;
  acc.count += 1;
  const { head, body } = splitHeaderBody(buf);
  const headers = parseHeaders(head);
  const h = (n) => headers.find(([k]) => k === n)?.[1];
  const ctype = h('content-type') || 'text/plain; charset=us-ascii';
  const mediaType = ctype.split(';')[0].trim().toLowerCase();
  const disposition = h('content-disposition') || '';
  const filename = param(disposition, 'filename') || param(ctype, 'name');
  if (mediaType.startsWith('multipart/') && depth < MAX_MIME_DEPTH) {
    const boundary = param(ctype, 'boundary');
    if (boundary) {
      const text = body.toString('latin1');
      const delim = `--${boundary}`;
      const pieces = text.split(new RegExp(`(?:^|\\r?\\n)${delim.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*(?:\\r?\\n|$)`));
      for (const piece of pieces.slice(1)) {
        if (piece.length) walk(Buffer.from(piece, 'latin1'), depth + 1, acc);
      }
      return;
    }
  }
  const data = decodeBody(body, h('content-transfer-encoding'));
  const isAttachment = /^attachment/i.test(disposition) || (filename && !mediaType.startsWith('text/'))
    || mediaType === 'message/rfc822';
  if (!isAttachment && mediaType === 'text/plain' && acc.text === undefined) {
    acc.text = decodeCharset(data, param(ctype, 'charset'));
  } else if (!isAttachment && mediaType === 'text/html' && acc.html === undefined) {
    acc.html = decodeCharset(data, param(ctype, 'charset'));
  } else if (depth > 0) {
    const cid = h('content-id');
    acc.attachments.push({
      name: filename ? decodeWords(filename) : (mediaType === 'message/rfc822' ? 'message.eml' : 'attachment'),
      contentType: mediaType,
      isInline: /^inline/i.test(disposition) && !!cid,
      contentId: cid ? cid.replace(/^<|>$/g, '') : null,
      bytes: data,
    });
  }
}

// Raw RFC 5322 bytes -> the fields Graph's message resource is made of.
export function parseMessage(raw) {
  const { head } = splitHeaderBody(raw);
  const headers = parseHeaders(head);
  const h = (n) => headers.find(([k]) => k === n)?.[1];
  const acc = { count: 0, text: undefined, html: undefined, attachments: [] };
  walk(raw, 0, acc);
  const date = h('date') ? new Date(h('date')) : null;
  const from = parseAddressList(h('from'))[0] ?? null;
  const sender = parseAddressList(h('sender'))[0] ?? from;
  return {
    subject: h('subject') !== undefined ? decodeWords(h('subject')) : '',
    from,
    sender,
    to: parseAddressList(h('to')),
    cc: parseAddressList(h('cc')),
    bcc: parseAddressList(h('bcc')),
    replyTo: parseAddressList(h('reply-to')),
    sentDate: date && !Number.isNaN(date.getTime()) ? date : null,
    messageId: h('message-id') || null,
    inReplyTo: h('in-reply-to') || null,
    references: (h('references') || '').split(/\s+/).filter(Boolean),
    importance: (h('importance') || '').toLowerCase(),
    body: acc.html !== undefined
      ? { contentType: 'html', content: acc.html }
      : { contentType: 'text', content: acc.text ?? '' },
    text: acc.text ?? (acc.html ?? '').replace(/<[^>]*>/g, ' '),
    attachments: acc.attachments,
    headers: headers.map(([name, value]) => ({ name, value })),
  };
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

function encodeWord(s) {
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?utf-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

function formatAddress(a) {
  if (!a) return '';
  const name = a.name && a.name !== a.address ? `${JSON.stringify(encodeWord(a.name))} ` : '';
  return `${name}<${a.address}>`;
}

function wrap64(buf) {
  return buf.toString('base64').replace(/.{1,76}/g, '$&\r\n');
}

// {from, to[], cc[], bcc[], subject, body:{contentType,content}, messageId, inReplyTo,
//  references[], date, attachments:[{name, contentType, bytes}]} -> Buffer
export function buildMessage(m) {
  const lines = [];
  if (m.from) lines.push(`From: ${formatAddress(m.from)}`);
  if (m.to?.length) lines.push(`To: ${m.to.map(formatAddress).join(', ')}`);
  if (m.cc?.length) lines.push(`Cc: ${m.cc.map(formatAddress).join(', ')}`);
  lines.push(`Subject: ${encodeWord(m.subject ?? '')}`);
  lines.push(`Date: ${(m.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`);
  lines.push(`Message-ID: ${m.messageId}`);
  if (m.inReplyTo) lines.push(`In-Reply-To: ${m.inReplyTo}`);
  if (m.references?.length) lines.push(`References: ${m.references.join(' ')}`);
  lines.push('MIME-Version: 1.0');
  const subtype = m.body?.contentType === 'html' ? 'html' : 'plain';
  const bodyPart = `Content-Type: text/${subtype}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrap64(Buffer.from(m.body?.content ?? '', 'utf8'))}`;
  if (!m.attachments?.length) {
    return Buffer.from(`${lines.join('\r\n')}\r\n${bodyPart}`, 'utf8');
  }
  const boundary = `=_mbfake_${crypto.randomBytes(12).toString('hex')}`;
  lines.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
  let out = `${lines.join('\r\n')}\r\n\r\n--${boundary}\r\n${bodyPart}`;
  for (const a of m.attachments) {
    out += `--${boundary}\r\nContent-Type: ${a.contentType || 'application/octet-stream'}; name="${encodeWord(a.name)}"\r\n`
      + `Content-Disposition: attachment; filename="${encodeWord(a.name)}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrap64(a.bytes)}`;
  }
  out += `--${boundary}--\r\n`;
  return Buffer.from(out, 'utf8');
}
