"""The control API, on its own plain-HTTP loopback port (never on the EWS port):

  POST /_control/deliver?user=U&folder=F   body: RFC 5322 message -> {"item_id", "folder"}
  POST /_control/busy?count=N&backoff_ms=M  the next N EWS requests get ErrorServerBusy
  POST /_control/inject?action=drop|stall&seconds=S   the next EWS request is dropped/stalled
  POST /_control/delay?ms=N                 every EWS request waits N ms (a LAN round trip)
  POST /_control/autodiscover?mode=normal|redirect_addr|redirect_url|loop&to=X
  POST /_control/token?user=U               mint a bearer token (when bearer auth is on)
  POST /_control/reset                      empty store, records, counters, injections
  GET  /_control/requests                   recorded requests (JSON list)
  GET  /_control/counters                   requests, tcp_connections, ntlm_handshakes, ...
  GET  /_control/sent                       messages sent through CreateItem/SendItem
  GET  /_control/mailbox?user=U             folders and message summaries of one mailbox
  GET  /_control/health                     "ok"
"""
import json
import secrets
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .fields import ews_time
from .store import StoreError

# Largest message the deliver endpoint takes (the store's own limit applies too).
MAX_DELIVER_BYTES = 40 * 1024 * 1024


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are two writes (see EwsHandler)

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, obj):
        body = (json.dumps(obj, indent=1, default=str) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _params(self):
        q = urllib.parse.urlparse(self.path)
        return q.path, {k: v[-1] for k, v in urllib.parse.parse_qs(q.query).items()}

    def _int(self, params, name, default=None):
        v = params.get(name)
        if v is None:
            if default is None:
                raise ValueError(f"missing query parameter '{name}'")
            return default
        try:
            n = int(v)
        except ValueError:
            raise ValueError(f"query parameter '{name}' must be an integer, got '{v}'") from None
        if n < 0:
            raise ValueError(f"query parameter '{name}' must be >= 0")
        return n

    def do_GET(self):
        ews = self.server.ews
        path, params = self._params()
        try:
            if path == "/_control/health":
                return self._reply(200, "ok")
            if path == "/_control/requests":
                with ews.lock:
                    return self._reply(200, list(ews.records))
            if path == "/_control/counters":
                with ews.lock:
                    return self._reply(200, dict(ews.counters))
            if path == "/_control/sent":
                with ews.store.lock:
                    return self._reply(200, list(ews.store.sent_log))
            if path == "/_control/mailbox":
                return self._reply(200, self._mailbox(ews, params))
            return self._reply(404, {"error": f"unknown control endpoint {path}"})
        except ValueError as e:
            return self._reply(400, {"error": str(e)})

    def _mailbox(self, ews, params):
        user = params.get("user")
        with ews.store.lock:
            mbx = ews.store.mailbox_for(user or "")
            if mbx is None:
                raise ValueError(f"unknown user '{user}'")
            folders = []
            for f in mbx.folders.values():
                folders.append({
                    "id": f.id, "name": f.name, "distinguished": f.distinguished, "path": f.path(),
                    "class": f.folder_class, "items": [{
                        "id": i.id, "change_key": i.change_key, "subject": i.summary.subject,
                        "from": i.summary.from_, "message_id": i.summary.message_id, "is_read": i.is_read,
                        "flag": i.flag["status"], "received": ews_time(i.received), "size": len(i.mime),
                        "conversation_id": i.conversation_id.hex()} for i in f.items.values()]})
            return {"user": mbx.user, "address": mbx.address, "folders": folders}

    def do_POST(self):
        ews = self.server.ews
        path, params = self._params()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_DELIVER_BYTES:
            return self._reply(413, {"error": f"body over {MAX_DELIVER_BYTES} bytes"})
        body = self.rfile.read(length) if length else b""
        try:
            if path == "/_control/deliver":
                user, folder = params.get("user"), params.get("folder") or "INBOX"
                with ews.store.lock:
                    mbx = ews.store.mailbox_for(user or "")
                    if mbx is None:
                        raise ValueError(f"unknown user '{user}'")
                    if not body:
                        raise ValueError("empty message body")
                    f = mbx.folder_by_path(folder)
                    item = mbx.add_item(f, body, new_mail=True)
                    return self._reply(200, {"item_id": item.id, "change_key": item.change_key, "folder": f.path(),
                                             "folder_id": f.id})
            if path == "/_control/busy":
                with ews.lock:
                    ews.busy = {"count": self._int(params, "count"), "backoff_ms": self._int(params, "backoff_ms",
                                                                                             1000)}
                return self._reply(200, ews.busy)
            if path == "/_control/inject":
                action = params.get("action")
                if action not in ("drop", "stall"):
                    raise ValueError("action must be drop or stall")
                with ews.lock:
                    ews.inject = {"action": action, "seconds": self._int(params, "seconds", 30)}
                return self._reply(200, ews.inject)
            if path == "/_control/delay":
                ews.delay_ms = self._int(params, "ms")
                return self._reply(200, {"delay_ms": ews.delay_ms})
            if path == "/_control/autodiscover":
                mode = params.get("mode", "normal")
                if mode not in ("normal", "redirect_addr", "redirect_url", "loop"):
                    raise ValueError("mode must be normal, redirect_addr, redirect_url or loop")
                if mode in ("redirect_addr", "redirect_url") and not params.get("to"):
                    raise ValueError(f"mode {mode} needs 'to'")
                ews.config["autodiscover"] = {"mode": mode, "to": params.get("to")}
                return self._reply(200, ews.config["autodiscover"])
            if path == "/_control/token":
                if "bearer" not in ews.config["auth"]:
                    raise ValueError("bearer authentication is not enabled on this server")
                user = ews.auth._user(params.get("user") or "")
                if user is None:
                    raise ValueError(f"unknown user '{params.get('user')}'")
                token = secrets.token_urlsafe(32)
                ews.minted_tokens[token] = user
                return self._reply(200, {"access_token": token, "user": user})
            if path == "/_control/reset":
                ews.reset()
                return self._reply(200, "reset")
            return self._reply(404, {"error": f"unknown control endpoint {path}"})
        except (ValueError, StoreError) as e:
            return self._reply(400, {"error": str(e)})


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ews):
        self.ews = ews
        super().__init__(addr, ControlHandler)
