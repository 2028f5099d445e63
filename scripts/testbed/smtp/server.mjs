// Throwaway SMTP submission server for mailbroker's integration tests, built on
// smtp-server (the Nodemailer project). Started by ../smtp.sh; see its header.
//
// Two listeners on --host: implicit TLS (--smtps-port) and plain with STARTTLS
// (--smtp-port); 0 picks a free port. Both require AUTH (PLAIN, LOGIN, and XOAUTH2
// when --introspection-url is given) before MAIL, advertise SIZE, 8BITMIME, SMTPUTF8.
// Test hooks by recipient local part: reject...@ → 550 5.1.1, defer...@ → 451 4.3.0.
// Every accepted message is recorded as MESSAGES/NNNNNN.eml (the bytes after
// un-dot-stuffing) and NNNNNN.json (envelope, parameters, user, TLS), each written
// to a temporary name and renamed, so a reader never sees half a file.
// Prints "READY smtp_port=N smtps_port=N" once both listen. No secrets are logged.
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

function usage(code) {
  console.log(`usage: node server.mjs --users FILE --cert FILE --key FILE --messages DIR
  [--host 127.0.0.1] [--smtp-port 0] [--smtps-port 0] [--size 10485760]
  [--introspection-url http://ID:SECRET@HOST:PORT/PATH] [--auth-methods PLAIN,LOGIN]
--users: JSON object {"user": "password", ...}`);
  process.exit(code);
}

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', smtpPort: 0, smtpsPort: 0, size: 10 * 1024 * 1024, authMethods: 'PLAIN,LOGIN' };
  const names = {
    '--users': 'users', '--cert': 'cert', '--key': 'key', '--messages': 'messages', '--host': 'host',
    '--smtp-port': 'smtpPort', '--smtps-port': 'smtpsPort', '--size': 'size',
    '--introspection-url': 'introspectionUrl', '--auth-methods': 'authMethods',
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--help' || argv[i] === '-h') usage(0);
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) {
      console.error(`unknown or incomplete argument '${argv[i]}'`);
      usage(2);
    }
    opts[key] = argv[++i];
  }
  for (const k of ['users', 'cert', 'key', 'messages']) {
    if (!opts[k]) {
      console.error(`--${k} is required`);
      usage(2);
    }
  }
  opts.smtpPort = Number(opts.smtpPort);
  opts.smtpsPort = Number(opts.smtpsPort);
  opts.size = Number(opts.size);
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const users = JSON.parse(fs.readFileSync(opts.users, 'utf8'));
const tls = { key: fs.readFileSync(opts.key), cert: fs.readFileSync(opts.cert) };
fs.mkdirSync(opts.messages, { recursive: true });

const log = (...parts) => console.log(new Date().toISOString(), ...parts);

// Message numbers continue after what the directory holds (a restart keeps them).
let counter = 0;
for (const name of fs.readdirSync(opts.messages)) {
  const m = /^(\d{6})\.json$/.exec(name);
  if (m) counter = Math.max(counter, Number(m[1]));
}

function writeAtomically(file, data) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

// Token introspection (RFC 7662), as Dovecot's oauth2 passdb does it: POST the token,
// HTTP basic auth from the URL's user info. Resolves to the active token's username,
// or null.
async function introspect(token) {
  const url = new URL(opts.introspectionUrl);
  const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = '';
  url.password = '';
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
    signal: AbortSignal.timeout(2000),
  });
  if (!res.ok) throw new Error(`introspection answered HTTP ${res.status}`);
  const body = await res.json();
  return body.active === true ? body.username ?? null : null;
}

function onAuth(auth, session, callback) {
  const fail = (code, message) => {
    const err = new Error(message);
    err.responseCode = code;
    return err;
  };
  if (auth.method === 'XOAUTH2') {
    if (!opts.introspectionUrl) return callback(fail(535, 'Error: XOAUTH2 is not configured'));
    introspect(auth.accessToken).then(
      (username) => {
        if (username !== null && username === auth.username) {
          log('auth ok', auth.method, auth.username);
          return callback(null, { user: auth.username });
        }
        log('auth failed', auth.method, auth.username, username === null ? 'inactive token' : 'token of another user');
        // No user: smtp-server sends this as the 334 error challenge, then 535.
        return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'mail' } });
      },
      (err) => {
        log('auth unavailable', auth.method, auth.username, err.message);
        callback(fail(454, 'Temporary authentication failure'));
      },
    );
    return undefined;
  }
  const expected = Object.prototype.hasOwnProperty.call(users, auth.username) ? users[auth.username] : undefined;
  if (expected !== undefined && auth.password === expected) {
    log('auth ok', auth.method, auth.username);
    return callback(null, { user: auth.username });
  }
  log('auth failed', auth.method, auth.username);
  return callback(fail(535, 'Authentication credentials invalid'));
}

function onRcptTo(address, session, callback) {
  const local = address.address.slice(0, address.address.lastIndexOf('@')).toLowerCase();
  if (local.startsWith('reject')) {
    const err = new Error('Mailbox unavailable (test hook)');
    err.responseCode = 550; // smtp-server adds 5.1.1
    return callback(err);
  }
  if (local.startsWith('defer')) {
    const err = new Error('Try again later (test hook)');
    err.responseCode = 451; // smtp-server adds 4.3.0
    return callback(err);
  }
  return callback();
}

function onData(stream, session, callback) {
  const chunks = [];
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('error', (err) => callback(err));
  stream.on('end', () => {
    if (stream.sizeExceeded) {
      const err = new Error(`Message exceeds the fixed maximum message size ${opts.size}`);
      err.responseCode = 552;
      return callback(err);
    }
    const number = String(++counter).padStart(6, '0');
    const eml = path.join(opts.messages, `${number}.eml`);
    const bytes = Buffer.concat(chunks);
    const from = session.envelope.mailFrom;
    const record = {
      id: number,
      eml: `${number}.eml`,
      mail_from: from ? from.address : null,
      rcpt_to: session.envelope.rcptTo.map((r) => r.address),
      params: {
        BODY: from && from.args && from.args.BODY !== undefined ? String(from.args.BODY) : null,
        SMTPUTF8: !!(from && from.args && from.args.SMTPUTF8),
        SIZE: from && from.args && from.args.SIZE !== undefined ? Number(from.args.SIZE) : null,
      },
      user: session.user || null,
      tls: !!session.secure,
      bytes: bytes.length,
    };
    try {
      writeAtomically(eml, bytes);
      // The JSON last: once it exists, the .eml beside it is complete.
      writeAtomically(path.join(opts.messages, `${number}.json`), `${JSON.stringify(record, null, 2)}\n`);
    } catch (err) {
      log('cannot record message', err.message);
      const e = new Error('Local error in processing');
      e.responseCode = 451;
      return callback(e);
    }
    log('message', number, 'from', record.mail_from, 'to', record.rcpt_to.join(','), 'bytes', bytes.length,
      'user', record.user, 'tls', record.tls);
    return callback(null, `OK: queued as ${number}`);
  });
}

function makeServer(secure) {
  // Password mechanisms as configured (a client's choice can be forced by offering one).
  const authMethods = opts.authMethods.split(',').map((m) => m.trim().toUpperCase()).filter((m) => m === 'PLAIN' || m === 'LOGIN');
  if (opts.introspectionUrl) authMethods.push('XOAUTH2');
  return new SMTPServer({
    secure,
    ...tls,
    name: 'smtp.testbed.invalid',
    banner: 'mailbroker SMTP testbed',
    size: opts.size,
    authMethods,
    // AUTH is refused before STARTTLS on the plain port (smtp-server's default).
    allowInsecureAuth: false,
    disabledCommands: [],
    hideDSN: true,
    // Off by default in smtp-server; on here so clients see RFC 3463 codes (5.1.1, 4.3.0).
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    logger: false,
    socketTimeout: 60 * 1000,
    onAuth,
    onRcptTo,
    onData,
  });
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.on('error', (err) => log('server error', err.message));
    server.server.once('error', reject);
    server.listen(port, opts.host, () => resolve(server.server.address().port));
  });
}

const plain = makeServer(false);
const implicit = makeServer(true);
const [smtpPort, smtpsPort] = await Promise.all([listen(plain, opts.smtpPort), listen(implicit, opts.smtpsPort)]);
console.log(`READY smtp_port=${smtpPort} smtps_port=${smtpsPort}`);

function shutdown() {
  let open = 2;
  const done = () => {
    if (--open === 0) process.exit(0);
  };
  plain.close(done);
  implicit.close(done);
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
