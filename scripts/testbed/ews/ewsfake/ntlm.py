"""Server side of NTLM (MS-NLMP), NTLMv2 only: parse NEGOTIATE, build CHALLENGE, verify
AUTHENTICATE by recomputing NTProofStr from the user's password (and the MIC when the client
sends one). Pure: no I/O; one NtlmHandshake per TCP connection (NTLM is connection-bound).

NTLMv1 (a 24-byte NtChallengeResponse), anonymous logons and LM-only responses are refused:
Exchange's default (LmCompatibilityLevel 5) refuses them too.
"""
import hmac
import os
import struct
import time

from .md4 import md4, rc4

SIGNATURE = b"NTLMSSP\x00"

NEGOTIATE_UNICODE = 0x00000001
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER, AV_DNS_DOMAIN = 0, 1, 2, 3, 4
AV_FLAGS, AV_TIMESTAMP = 6, 7
AV_FLAG_MIC_PRESENT = 0x2

# Largest NTLM message accepted (a real AUTHENTICATE is ~300-600 bytes; the bound keeps a
# hostile client from making the fake parse megabytes of base64).
MAX_MESSAGE_BYTES = 8192
# How far the NTLMv2 blob's timestamp may be from the server's clock (replay window).
MAX_CLOCK_SKEW_SECONDS = 300
# Windows FILETIME: 100 ns ticks since 1601-01-01.
_FILETIME_EPOCH_OFFSET = 116444736000000000


class NtlmError(Exception):
    """A refused or malformed NTLM message; str() says which step and why (never a secret)."""


def filetime_now() -> int:
    return int(time.time() * 10_000_000) + _FILETIME_EPOCH_OFFSET


def nt_hash(password: str) -> bytes:
    return md4(password.encode("utf-16-le"))


def ntowf_v2(password: str, user: str, domain: str) -> bytes:
    return hmac.new(nt_hash(password), (user.upper() + domain).encode("utf-16-le"), "md5").digest()


def _field(msg: bytes, off: int, what: str) -> bytes:
    if off + 8 > len(msg):
        raise NtlmError(f"{what} field descriptor beyond the message end")
    length, _maxlen, offset = struct.unpack_from("<HHI", msg, off)
    if length == 0:
        return b""
    if offset + length > len(msg):
        raise NtlmError(f"{what} ({length} bytes at {offset}) beyond the message end ({len(msg)} bytes)")
    return msg[offset:offset + length]


def parse_av_pairs(data: bytes) -> list:
    pairs, pos = [], 0
    while pos + 4 <= len(data):
        av_id, av_len = struct.unpack_from("<HH", data, pos)
        pos += 4
        if av_id == AV_EOL:
            return pairs
        if pos + av_len > len(data):
            raise NtlmError("AV pair runs past the end of the target info")
        pairs.append((av_id, data[pos:pos + av_len]))
        pos += av_len
    raise NtlmError("target info has no MsvAvEOL")


def build_av_pairs(pairs) -> bytes:
    out = b"".join(struct.pack("<HH", i, len(v)) + v for i, v in pairs)
    return out + struct.pack("<HH", AV_EOL, 0)


def message_type(msg: bytes) -> int:
    if len(msg) < 12 or msg[:8] != SIGNATURE:
        raise NtlmError("not an NTLMSSP message (bad signature)")
    if len(msg) > MAX_MESSAGE_BYTES:
        raise NtlmError(f"NTLM message of {len(msg)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return struct.unpack_from("<I", msg, 8)[0]


class NtlmHandshake:
    """One connection's NTLM exchange. `password_of(user) -> str | None` looks users up."""

    def __init__(self, netbios_domain: str, dns_domain: str, computer: str, password_of):
        self.netbios_domain = netbios_domain.upper()
        self.dns_domain = dns_domain
        self.computer = computer.upper()
        self.password_of = password_of
        self.negotiate = None
        self.challenge = None
        self.server_challenge = None
        self.timestamp = None

    def challenge_for(self, negotiate: bytes) -> bytes:
        if message_type(negotiate) != 1:
            raise NtlmError("expected NEGOTIATE_MESSAGE (type 1) to start the handshake")
        if len(negotiate) < 16:
            raise NtlmError("NEGOTIATE_MESSAGE shorter than 16 bytes")
        client_flags = struct.unpack_from("<I", negotiate, 12)[0]
        # The challenge always selects Unicode, even when the NEGOTIATE only says OEM (python's
        # ntlm-auth does that because its OEM domain/workstation fields are ASCII); the
        # AUTHENTICATE must then be Unicode, which verify() checks.
        flags = (NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_NTLM | NEGOTIATE_ALWAYS_SIGN | TARGET_TYPE_DOMAIN
                 | NEGOTIATE_EXTENDED_SESSIONSECURITY | NEGOTIATE_TARGET_INFO | NEGOTIATE_VERSION)
        flags |= client_flags & (NEGOTIATE_SIGN | NEGOTIATE_SEAL | NEGOTIATE_128 | NEGOTIATE_56 | NEGOTIATE_KEY_EXCH)
        self.server_challenge = os.urandom(8)
        self.timestamp = filetime_now()
        target_name = self.netbios_domain.encode("utf-16-le")
        target_info = build_av_pairs([
            (AV_NB_DOMAIN, self.netbios_domain.encode("utf-16-le")),
            (AV_NB_COMPUTER, self.computer.encode("utf-16-le")),
            (AV_DNS_DOMAIN, self.dns_domain.encode("utf-16-le")),
            (AV_DNS_COMPUTER, f"{self.computer.lower()}.{self.dns_domain}".encode("utf-16-le")),
            (AV_TIMESTAMP, struct.pack("<Q", self.timestamp)),
        ])
        header_len = 56
        version = struct.pack("<BBHBBBB", 10, 0, 17763, 0, 0, 0, 15)  # Windows Server 2019, NTLM rev 15
        msg = SIGNATURE + struct.pack("<I", 2)
        msg += struct.pack("<HHI", len(target_name), len(target_name), header_len)
        msg += struct.pack("<I", flags) + self.server_challenge + b"\x00" * 8
        msg += struct.pack("<HHI", len(target_info), len(target_info), header_len + len(target_name))
        msg += version + target_name + target_info
        self.negotiate, self.challenge = negotiate, msg
        return msg

    def verify(self, auth: bytes):
        """Returns (user, domain) for a valid AUTHENTICATE_MESSAGE; raises NtlmError otherwise.
        The handshake is single-use: a second AUTHENTICATE needs a new NEGOTIATE."""
        if self.challenge is None:
            raise NtlmError("AUTHENTICATE_MESSAGE without a CHALLENGE on this connection (NTLM is connection-bound)")
        server_challenge, our_ts, negotiate, challenge = (self.server_challenge, self.timestamp, self.negotiate,
                                                          self.challenge)
        self.challenge = None
        if message_type(auth) != 3:
            raise NtlmError("expected AUTHENTICATE_MESSAGE (type 3)")
        if len(auth) < 64:
            raise NtlmError("AUTHENTICATE_MESSAGE shorter than 64 bytes")
        # LmChallengeResponse (offset 12) is not checked: with MsvAvTimestamp clients send zeros
        # (MS-NLMP 3.1.5.1.2).
        nt = _field(auth, 20, "NtChallengeResponse")
        domain_b = _field(auth, 28, "DomainName")
        user_b = _field(auth, 36, "UserName")
        enc_key = _field(auth, 52, "EncryptedRandomSessionKey")
        flags = struct.unpack_from("<I", auth, 60)[0]
        if not flags & NEGOTIATE_UNICODE:
            raise NtlmError("AUTHENTICATE_MESSAGE without NTLMSSP_NEGOTIATE_UNICODE")
        try:
            user = user_b.decode("utf-16-le")
            domain = domain_b.decode("utf-16-le")
        except UnicodeDecodeError:
            raise NtlmError("UserName or DomainName is not valid UTF-16") from None
        if not user and not nt:
            raise NtlmError("anonymous NTLM logon refused")
        if len(nt) == 24:
            raise NtlmError("NTLMv1 response refused (only NTLMv2 is accepted, as with LmCompatibilityLevel 5)")
        if len(nt) < 16 + 28:
            raise NtlmError(f"NtChallengeResponse of {len(nt)} bytes is too short for NTLMv2")
        if domain and domain.upper() not in (self.netbios_domain, self.dns_domain.upper()):
            raise NtlmError(f"unknown domain in AUTHENTICATE_MESSAGE (expected {self.netbios_domain})")
        nt_proof, blob = nt[:16], nt[16:]
        if blob[0] != 1 or blob[1] != 1:
            raise NtlmError("NTLMv2 blob has an unknown RespType/HiRespType")
        client_ts = struct.unpack_from("<Q", blob, 8)[0]
        if abs(client_ts - filetime_now()) > MAX_CLOCK_SKEW_SECONDS * 10_000_000:
            raise NtlmError("NTLMv2 blob timestamp is outside the allowed clock skew")
        pairs = parse_av_pairs(blob[28:])
        echoed_ts = [v for i, v in pairs if i == AV_TIMESTAMP]
        if echoed_ts and struct.unpack("<Q", echoed_ts[0])[0] != our_ts:
            raise NtlmError("NTLMv2 blob carries another challenge's MsvAvTimestamp")
        password = self.password_of(user)
        if password is None:
            raise NtlmError("unknown user or wrong password")
        key = ntowf_v2(password, user, domain)
        expected = hmac.new(key, server_challenge + blob, "md5").digest()
        if not hmac.compare_digest(expected, nt_proof):
            raise NtlmError("unknown user or wrong password")
        # MIC: present when the client's MsvAvFlags says so (then it sits at offset 72).
        av_flags = [struct.unpack("<I", v)[0] for i, v in pairs if i == AV_FLAGS and len(v) == 4]
        if av_flags and av_flags[0] & AV_FLAG_MIC_PRESENT:
            if len(auth) < 88:
                raise NtlmError("MsvAvFlags announces a MIC but the message has none")
            session_base_key = hmac.new(key, nt_proof, "md5").digest()
            exported = rc4(session_base_key, enc_key) if flags & NEGOTIATE_KEY_EXCH and enc_key else session_base_key
            zeroed = auth[:72] + b"\x00" * 16 + auth[88:]
            mic = hmac.new(exported, negotiate + challenge + zeroed, "md5").digest()
            if not hmac.compare_digest(mic, auth[72:88]):
                raise NtlmError("MIC mismatch (messages altered, or a key derivation error)")
        return user, domain
