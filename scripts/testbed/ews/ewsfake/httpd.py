"""The HTTPS listener: HTTP/1.1 keep-alive, one thread per TCP connection (TLS handshake in
that thread, not in the accept loop), authentication, fault injection, request recording, and
dispatch to SOAP (/EWS/Exchange.asmx) or Autodiscover (/autodiscover/autodiscover.xml)."""
import hashlib
import json
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import autodiscover, soap
from .auth import Authenticator, ConnectionAuth, Unauthorized, offers
from .store import Store
from . import ops_folders, ops_items, ops_create, ops_notify, ops_misc  # noqa: F401 (register operations)

# Requests kept for GET /_control/requests (oldest dropped first) and SOAP bytes kept per request.
MAX_RECORDED_REQUESTS = 5000
MAX_RECORDED_BODY_BYTES = 64 * 1024
# An idle keep-alive connection is closed after this many seconds (IIS: 120).
IDLE_TIMEOUT_SECONDS = 120
# Request headers copied into the request log (never Authorization's credentials).
RECORDED_HEADERS = ("X-AnchorMailbox", "X-PreferServerAffinity", "User-Agent", "Content-Type", "SOAPAction",
                    "Connection", "Accept", "Accept-Encoding", "Expect", "Transfer-Encoding")


class EwsServer:
    """State shared by all connections: config, store, counters, recordings, injected faults."""

    def __init__(self, config):
        self.config = config
        self.store = Store(config["users"], config["mail_domain"])
        self.auth = Authenticator(self)
        self.lock = threading.Lock()
        self.minted_tokens = {}
        self._reset_observations()

    def _reset_observations(self):
        with self.lock:
            self.counters = {"requests": 0, "soap_requests": 0, "tcp_connections": 0, "ntlm_handshakes": 0, "ntlm_challenges": 0,
                             "auth_failures": 0, "faults": 0, "busy_sent": 0, "streams": 0}
            self.records = []
            self.record_seq = 0
            self.busy = {"count": 0, "backoff_ms": 0}
            self.inject = None
            self.delay_ms = 0
        self.conn_seq = getattr(self, "conn_seq", 0)

    def reset(self):
        self.store.reset(self.config["users"])
        self._reset_observations()

    def count(self, name, n=1):
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def next_connection(self):
        with self.lock:
            self.conn_seq += 1
            self.counters["tcp_connections"] += 1
            return self.conn_seq

    def record(self, rec):
        with self.lock:
            self.record_seq += 1
            rec["n"] = self.record_seq
            self.records.append(rec)
            if len(self.records) > MAX_RECORDED_REQUESTS:
                del self.records[: len(self.records) - MAX_RECORDED_REQUESTS]

    def take_injection(self):
        with self.lock:
            inj, self.inject = self.inject, None
            return inj

    def take_busy(self):
        with self.lock:
            if self.busy["count"] > 0:
                self.busy["count"] -= 1
                self.counters["busy_sent"] += 1
                return self.busy["backoff_ms"]
            return None

    def auth_may_discover(self, user, mailbox):
        """Autodiscover answers for the caller's own mailbox, a delegated one, or any mailbox
        when the caller is an impersonation account."""
        me = user.lower()
        if mailbox.user.lower() == me or me in [a.lower() for a in self.config.get("impersonation_accounts", [])]:
            return True
        return me in [g.lower() for g in self.config.get("delegates", {}).get(mailbox.user.lower(), [])]

    def affinity_cookie(self, user):
        return "mbfake-" + hashlib.sha256(("affinity:" + user.lower()).encode()).hexdigest()[:24]


class _Drop(Exception):
    pass


class EwsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    # TCP_NODELAY: _send writes the head and the body separately; with Nagle the body's
    # last segment waits for the client's delayed ACK (~40 ms per response on loopback).
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.ews = self.server.ews
        self.conn_id = self.ews.next_connection()
        self.conn_auth = ConnectionAuth()

    def log_message(self, fmt, *args):
        if self.ews.config.get("verbose"):
            sys.stderr.write("ews %s conn=%d %s\n" % (self.log_date_time_string(), self.conn_id, fmt % args))

    # -- plumbing --------------------------------------------------------------------------
    def _read_body(self):
        limit = soap.MAX_REQUEST_BYTES
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            body = bytearray()
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _Drop() from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                if len(body) + size > limit:
                    raise _Drop()
                body += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self.send_error(413, f"request body over {limit} bytes")
            raise _Drop()
        return self.rfile.read(length) if length else b""

    def _send(self, status, body: bytes, content_type="text/xml; charset=utf-8", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or []):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _unauthorized(self, e, rec):
        if not e.challenge:  # an NTLM challenge is a step of the handshake, not a failure
            self.ews.count("auth_failures")
        rec["status"], rec["auth_error"] = 401, e.reason
        challenges = [e.challenge] if e.challenge else offers(self.ews.config, self.headers.get("Host", "localhost"))
        self._send(401, b"", "text/html", [("WWW-Authenticate", c) for c in challenges])

    def _base_record(self):
        h = {k: self.headers.get(k) for k in RECORDED_HEADERS if self.headers.get(k) is not None}
        authz = self.headers.get("Authorization")
        cookies = self.headers.get("Cookie") or ""
        backend = [c.strip().split("=", 1)[1] for c in cookies.split(";") if c.strip().startswith("X-BackEndCookie=")]
        return {"time": time.time(), "conn": self.conn_id, "method": self.command, "path": self.path,
                "auth_header": authz.split(" ", 1)[0] if authz else None, "headers": h,
                "backend_cookie_sent": bool(backend), "backend_cookie": backend[0] if backend else None,
                "anchor_mailbox": self.headers.get("X-AnchorMailbox")}

    def _authenticate(self, rec):
        user, scheme = self.ews.auth.authenticate(self.conn_auth, self.headers.get("Authorization"))
        rec["user"], rec["auth"] = user, scheme
        return user, scheme

    # -- endpoints -------------------------------------------------------------------------
    def do_POST(self):
        self._dispatch()

    def do_GET(self):
        self._dispatch()

    def _dispatch(self):
        rec = self._base_record()
        try:
            body = self._read_body() if self.command == "POST" else b""
            path = self.path.split("?", 1)[0].lower()
            if path == "/ews/exchange.asmx":
                self._ews(body, rec)
            elif path == "/autodiscover/autodiscover.xml":
                self._autodiscover(body, rec)
            else:
                rec["status"] = 404
                self._send(404, b"<html><body>404 Not Found</body></html>", "text/html")
        except _Drop:
            rec["status"] = "dropped"
            self.close_connection = True
        except (ConnectionError, socket.timeout, ssl.SSLError):
            rec["status"] = "client-gone"
            self.close_connection = True
        finally:
            if not rec.get("recorded"):
                self.ews.record(rec)

    def _ews(self, body, rec):
        self.ews.count("requests")
        rec["body"] = body[:MAX_RECORDED_BODY_BYTES].decode("utf-8", "replace")
        # Authentication first, whatever the method: IIS authenticates before the EWS handler
        # runs (ews-javascript-api's NTLM starts its handshake with a GET).
        try:
            user, scheme = self._authenticate(rec)
        except Unauthorized as e:
            self._unauthorized(e, rec)
            return
        if self.command != "POST":
            rec["status"] = 405
            self._send(405, b"", "text/html", [("Allow", "POST")])
            return
        inj = self.ews.take_injection()
        if inj:
            rec["injected"] = inj["action"]
            if inj["action"] == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                raise _Drop()
            time.sleep(inj.get("seconds", 0))
        if self.ews.delay_ms:
            time.sleep(self.ews.delay_ms / 1000.0)
        backoff = self.ews.take_busy()
        if backoff is not None:
            rec["status"], rec["fault"] = 500, "ErrorServerBusy"
            detail = (f'<t:MessageXml xmlns:t="{soap.NS_T}"><t:Value Name="BackOffMilliseconds">{backoff}</t:Value>'
                      "</t:MessageXml>")
            f = soap.Fault("ErrorServerBusy", "The server cannot service this request right now. Try again later.",
                           detail)
            self._send(500, f.xml().encode("utf-8"))
            return
        self.ews.count("soap_requests")
        try:
            status, result = soap.handle(self.ews, user, scheme, self.conn_id, body, rec)
        except Exception:  # a bug in the fake: say so loudly, keep serving
            traceback.print_exc()
            status, result = 500, soap.Fault("ErrorInternalServerError", "The fake EWS server failed on this "
                                             "request (see its log).").xml()
        rec["status"] = status
        if status != 200:
            self.ews.count("faults")
        cookie = self.ews.affinity_cookie(rec.get("mailbox") or user)
        extra = [("Set-Cookie", f"X-BackEndCookie={cookie}; path=/EWS; secure; HttpOnly")]
        rec["backend_cookie_matches"] = rec["backend_cookie"] == cookie
        if callable(result):
            self._stream(result, extra, rec)
            return
        self._send(status, result.encode("utf-8"), extra=extra)

    def _stream(self, run, extra, rec):
        self.ews.count("streams")
        # Recorded when the stream starts (it may last minutes); its end is noted in the same dict.
        rec["status"], rec["streaming"] = 200, "open"
        self.ews.record(rec)
        rec["recorded"] = True
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

        def emit(chunk: bytes):
            self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        run(emit)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        rec["streaming"] = "closed"

    def _autodiscover(self, body, rec):
        rec["operation"] = "Autodiscover"
        rec["body"] = body[:MAX_RECORDED_BODY_BYTES].decode("utf-8", "replace")
        try:
            user, _ = self._authenticate(rec)
        except Unauthorized as e:
            self._unauthorized(e, rec)
            return
        status, xml = autodiscover.respond(self.ews, user, self.command, body)
        rec["status"] = status
        self._send(status, xml.encode("utf-8"))


class _TlsThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, ews, tls_context):
        self.ews, self.tls_context = ews, tls_context
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread.
        request.settimeout(30)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        tls.settimeout(IDLE_TIMEOUT_SECONDS)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.ews.config.get("verbose"):
            traceback.print_exc()


def make_ews_listener(ews, host, port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return _TlsThreadingServer((host, port), EwsHandler, ews, ctx)


def dump_json(obj):
    return json.dumps(obj, indent=1, default=str).encode("utf-8")
