"""The fake's NTLM against MS-NLMP 4.2.4 (NTLMv2 test vectors) and a full handshake built with
the Debian python3-ntlm-auth client (the library requests-ntlm and so exchangelib use)."""
import base64
import hmac
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from ewsfake import ntlm  # noqa: E402
from ewsfake.md4 import md4, rc4  # noqa: E402


class Md4Rc4Test(unittest.TestCase):
    def test_rfc1320_vectors(self):
        self.assertEqual(md4(b"").hex(), "31d6cfe0d16ae931b73c59d7e0c089c0")
        self.assertEqual(md4(b"abc").hex(), "a448017aaf21d8525fc10ae87aa6729d")
        self.assertEqual(md4(b"message digest").hex(), "d9130a8164549fe818874806e1c7014b")
        self.assertEqual(md4(b"1234567890" * 8).hex(), "e33b4ddc9c38f2199c3e7b164fcc0536")

    def test_rc4_vector(self):  # RFC 6229 style: "Key" / "Plaintext"
        self.assertEqual(rc4(b"Key", b"Plaintext").hex(), "bbf316e8d940af0ad3")


class NlmpVectorsTest(unittest.TestCase):
    # MS-NLMP 4.2.4: User "User", domain "Domain", password "Password".
    def test_ntowfv2_and_ntproofstr(self):
        key = ntlm.ntowf_v2("Password", "User", "Domain")
        self.assertEqual(key.hex(), "0c868a403bfd7a93a3001ef22ef02e3f")
        server_challenge = bytes.fromhex("0123456789abcdef")
        client_challenge = bytes.fromhex("aaaaaaaaaaaaaaaa")
        av = ntlm.build_av_pairs([(ntlm.AV_NB_DOMAIN, "Domain".encode("utf-16-le")),
                                  (ntlm.AV_NB_COMPUTER, "Server".encode("utf-16-le"))])
        temp = b"\x01\x01" + b"\x00" * 6 + b"\x00" * 8 + client_challenge + b"\x00" * 4 + av + b"\x00" * 4
        proof = hmac.new(key, server_challenge + temp, "md5").digest()
        self.assertEqual(proof.hex(), "68cd0ab851e51c96aabc927bebef6a1c")
        self.assertEqual(hmac.new(key, proof, "md5").digest().hex(), "8de40ccadbc14a82f15cb0ad0de95ca3")


def _ntlm_auth_client(user, domain, password):
    from ntlm_auth.ntlm import NtlmContext
    return NtlmContext(user, password, domain=domain, ntlm_compatibility=3)


class HandshakeTest(unittest.TestCase):
    def setUp(self):
        self.users = {"alice": "s3cret-Alice"}

    def server(self):
        return ntlm.NtlmHandshake("TESTLAB", "testlab.test", "EXCH01", lambda u: self.users.get(u.lower()))

    def run_handshake(self, user, domain, password, tamper=None):
        try:
            client = _ntlm_auth_client(user, domain, password)
        except ImportError:
            self.skipTest("python3-ntlm-auth is not installed")
        server = self.server()
        challenge = server.challenge_for(client.step())
        auth = client.step(challenge)
        if tamper:
            auth = tamper(auth)
        return server.verify(auth)

    def test_good_password_with_domain(self):
        self.assertEqual(self.run_handshake("alice", "TESTLAB", "s3cret-Alice"), ("alice", "TESTLAB"))

    def test_good_password_without_domain(self):
        self.assertEqual(self.run_handshake("alice", "", "s3cret-Alice"), ("alice", ""))

    def test_wrong_password(self):
        with self.assertRaisesRegex(ntlm.NtlmError, "wrong password"):
            self.run_handshake("alice", "TESTLAB", "wrong")

    def test_unknown_domain(self):
        with self.assertRaisesRegex(ntlm.NtlmError, "unknown domain"):
            self.run_handshake("alice", "OTHER", "s3cret-Alice")

    def test_tampered_mic(self):
        def flip(auth):
            b = bytearray(auth)
            b[80] ^= 0xFF
            return bytes(b)
        with self.assertRaisesRegex(ntlm.NtlmError, "MIC"):
            self.run_handshake("alice", "TESTLAB", "s3cret-Alice", tamper=flip)

    def test_ntlmv1_refused(self):
        server = self.server()
        server.challenge_for(ntlm.SIGNATURE + struct.pack("<II", 1, ntlm.NEGOTIATE_UNICODE) + b"\x00" * 16)
        user = "alice".encode("utf-16-le")
        header_len = 64
        lm, nt = b"\x00" * 24, b"\x11" * 24
        payload = lm + nt + user
        msg = ntlm.SIGNATURE + struct.pack("<I", 3)
        msg += struct.pack("<HHI", 24, 24, header_len) + struct.pack("<HHI", 24, 24, header_len + 24)
        msg += struct.pack("<HHI", 0, 0, header_len + 48) + struct.pack("<HHI", len(user), len(user), header_len + 48)
        msg += struct.pack("<HHI", 0, 0, header_len + 48 + len(user)) * 2
        msg += struct.pack("<I", ntlm.NEGOTIATE_UNICODE) + payload
        with self.assertRaisesRegex(ntlm.NtlmError, "NTLMv1"):
            server.verify(msg)

    def test_authenticate_without_challenge(self):
        with self.assertRaisesRegex(ntlm.NtlmError, "connection-bound"):
            self.server().verify(ntlm.SIGNATURE + struct.pack("<I", 3) + b"\x00" * 60)

    def test_garbage(self):
        for blob in (b"", b"NTLMSSP", b"XXXXXXXX\x01\x00\x00\x00", base64.b64decode("TlRMTVNTUAADAAAA")):
            with self.assertRaises(ntlm.NtlmError):
                self.server().verify(blob)
            with self.assertRaises(ntlm.NtlmError):
                self.server().challenge_for(blob)


if __name__ == "__main__":
    unittest.main()
