"""HTTP authentication for the EWS and Autodiscover endpoints: Basic (user, DOMAIN\\user or
user@domain), NTLMv2 (connection-bound: once a connection has authenticated, its later requests
need no header, as with IIS) and Bearer (checked by token introspection at the test OAuth2
server, or tokens minted by the control API when no OAuth2 server is configured)."""
import base64
import binascii
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request

from .ntlm import NtlmError, NtlmHandshake


class Unauthorized(Exception):
    """401: `challenge` is a WWW-Authenticate value to send instead of the offer list."""

    def __init__(self, reason, challenge=None):
        super().__init__(reason)
        self.reason, self.challenge = reason, challenge


class ConnectionAuth:
    """Per TCP connection: the NTLM handshake in progress and the user it authenticated."""

    def __init__(self):
        self.ntlm = None
        self.ntlm_user = None


def offers(config, host):
    out = []
    schemes = config["auth"]
    if "ntlm" in schemes:
        out.append("NTLM")
    if "basic" in schemes:
        out.append(f'Basic realm="{host}"')
    if "bearer" in schemes:
        out.append('Bearer realm="EWS"')
    return out


class Authenticator:
    def __init__(self, server):
        self.server = server
        self.config = server.config

    def _user(self, name):
        """'alice', 'TESTLAB\\alice', 'alice@testlab.test' -> canonical user name or None."""
        cfg = self.config
        if "\\" in name:
            domain, name = name.split("\\", 1)
            if domain.upper() not in (cfg["domain"].upper(), cfg["dns_domain"].upper()):
                return None
        elif "@" in name:
            local, domain = name.rsplit("@", 1)
            if domain.lower() not in (cfg["mail_domain"].lower(), cfg["dns_domain"].lower()):
                return None
            name = local
        for u in cfg["users"]:
            if u["name"].lower() == name.lower():
                return u["name"]
        return None

    def password_of(self, name):
        user = self._user(name)
        if user is None:
            return None
        return next(u["password"] for u in self.config["users"] if u["name"] == user)

    def authenticate(self, conn, header):
        """Returns (user, scheme) or raises Unauthorized."""
        schemes = self.config["auth"]
        if not header:
            if conn.ntlm_user:
                return conn.ntlm_user, "NTLM-connection"
            raise Unauthorized("no Authorization header")
        scheme, _, token = header.strip().partition(" ")
        scheme = scheme.lower()
        token = token.strip()
        if scheme == "basic" and "basic" in schemes:
            return self._basic(token), "Basic"
        if scheme == "ntlm" and "ntlm" in schemes:
            return self._ntlm(conn, token), "NTLM"
        if scheme == "bearer" and "bearer" in schemes:
            return self._bearer(token), "Bearer"
        raise Unauthorized(f"authorization scheme '{scheme}' is not offered")

    def _basic(self, token):
        try:
            decoded = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized("Basic credentials are not base64") from None
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            text = decoded.decode("latin-1")
        name, sep, password = text.partition(":")
        if not sep:
            raise Unauthorized("Basic credentials have no ':'")
        expected = self.password_of(name)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise Unauthorized("unknown user or wrong password (Basic)")
        return self._user(name)

    def _ntlm(self, conn, token):
        try:
            msg = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized("NTLM token is not base64") from None
        cfg = self.config
        try:
            if msg[8:12] == b"\x01\x00\x00\x00":
                conn.ntlm_user = None
                conn.ntlm = NtlmHandshake(cfg["domain"], cfg["dns_domain"], "EXCH01", self.password_of)
                challenge = conn.ntlm.challenge_for(msg)
                self.server.count("ntlm_challenges")
                raise Unauthorized("NTLM challenge sent", "NTLM " + base64.b64encode(challenge).decode())
            if conn.ntlm is None:
                raise NtlmError("AUTHENTICATE_MESSAGE without a CHALLENGE on this connection (NTLM is "
                                "connection-bound)")
            user, _domain = conn.ntlm.verify(msg)
        except NtlmError as e:
            conn.ntlm = None
            raise Unauthorized(f"NTLM: {e}") from None
        conn.ntlm = None
        conn.ntlm_user = self._user(user)
        self.server.count("ntlm_handshakes")
        return conn.ntlm_user

    def _bearer(self, token):
        if not token:
            raise Unauthorized("empty bearer token")
        minted = self.server.minted_tokens.get(token)
        if minted is not None:
            return minted
        url = self.config.get("oauth2_introspect_url")
        if not url:
            raise Unauthorized("unknown bearer token (no OAuth2 introspection configured)")
        data = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode()
        req = urllib.request.Request(url, data=data, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        client = self.config.get("oauth2_client_id")
        if client:
            cred = f"{client}:{self.config.get('oauth2_client_secret', '')}".encode()
            req.add_header("Authorization", "Basic " + base64.b64encode(cred).decode())
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:  # nosec - loopback test server
                info = json.loads(resp.read(65536))
        except (urllib.error.URLError, ValueError, OSError) as e:
            raise Unauthorized(f"token introspection failed: {type(e).__name__}") from None
        if not info.get("active"):
            raise Unauthorized("bearer token is not active")
        want = self.config.get("oauth2_scope")
        scopes = (info.get("scope") or "").split()
        aud = info.get("aud")
        auds = aud if isinstance(aud, list) else [aud] if aud else []
        if want and want not in scopes and want not in auds:
            raise Unauthorized(f"bearer token lacks the EWS scope/audience '{want}'")
        user = self._user(info.get("username") or info.get("sub") or "")
        if user is None:
            raise Unauthorized("bearer token names no user of this server")
        return user
