// Pure parts of the fake: MIME parsing into Graph fields and composing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildMessage, parseAddressList, parseMessage } from '../lib/mime.mjs';

test('headers, encoded words, multipart with an attachment', () => {
  const raw = Buffer.from([
    'From: =?utf-8?B?SsO8cmdlbg==?= <j@testlab.test>',
    'To: "Doe, Jane" <jane@testlab.test>, bob@testlab.test',
    'Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?= and',
    ' more',
    'Message-ID: <m1@x>',
    'Date: Tue, 02 Jan 2024 03:04:05 +0000',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=C3=A9 =',
    'ok',
    '--b1',
    'Content-Type: application/pdf; name="a.pdf"',
    'Content-Disposition: attachment; filename="a.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n'));
  const p = parseMessage(raw);
  assert.equal(p.subject, 'Grüße and more');
  assert.deepEqual(p.from, { name: 'Jürgen', address: 'j@testlab.test' });
  assert.deepEqual(p.to, [{ name: 'Doe, Jane', address: 'jane@testlab.test' }, { name: 'bob@testlab.test', address: 'bob@testlab.test' }]);
  assert.equal(p.body.content, 'café ok');
  assert.equal(p.attachments.length, 1);
  assert.equal(p.attachments[0].name, 'a.pdf');
  assert.equal(p.attachments[0].bytes.toString(), '%PDF-1.4');
  assert.equal(p.sentDate.toISOString(), '2024-01-02T03:04:05.000Z');
});

test('composed messages parse back', () => {
  const raw = buildMessage({
    messageId: '<c@x>', from: { name: 'Alice', address: 'alice@testlab.test' }, to: [{ name: 'Bob', address: 'bob@testlab.test' }],
    subject: 'Ünïcode', body: { contentType: 'text', content: 'hi' }, inReplyTo: '<p@x>', references: ['<p@x>'],
    attachments: [{ name: 'x.bin', contentType: 'application/octet-stream', bytes: Buffer.from([0, 1, 2]) }],
  });
  const p = parseMessage(raw);
  assert.equal(p.subject, 'Ünïcode');
  assert.equal(p.body.content, 'hi');
  assert.equal(p.inReplyTo, '<p@x>');
  assert.deepEqual([...p.attachments[0].bytes], [0, 1, 2]);
});

test('address lists', () => {
  assert.deepEqual(parseAddressList(''), []);
  assert.deepEqual(parseAddressList('a@b, <c@d>'), [{ name: 'a@b', address: 'a@b' }, { name: 'c@d', address: 'c@d' }]);
});
