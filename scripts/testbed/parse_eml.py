#!/usr/bin/env python3
"""Reads an .eml with Python's standard email package and prints it as JSON.

    parse_eml.py FILE

The integration tests use it to check the mail mailbroker sends with a MIME parser
other than its own (policy=email.policy.default: RFC 2047 words decoded, address
headers parsed). Output:

    {"headers": {"From": ..., "To": ..., "Cc": ..., "Subject": ..., "Message-ID": ...,
                 "Date": ..., "In-Reply-To": ..., "References": ...},   # null if absent
     "defects": [...],                                                # parser complaints
     "parts": [{"content_type": "text/plain", "charset": "utf-8", "filename": null,
                "disposition": null, "length": 12, "sha256": "...",
                "text": "..."}, ...]}                                 # text/* only

Every leaf part in depth-first order; length and sha256 are of the decoded payload
(after base64/quoted-printable). Exit status 2 on usage errors.
"""
import email
import email.policy
import hashlib
import json
import sys

HEADERS = ["From", "To", "Cc", "Subject", "Message-ID", "Date", "In-Reply-To", "References"]


def leaf(part):
    payload = part.get_payload(decode=True) or b""
    out = {
        "content_type": part.get_content_type(),
        "charset": part.get_content_charset(),
        "filename": part.get_filename(),
        "disposition": part.get_content_disposition(),
        "transfer_encoding": part.get("Content-Transfer-Encoding"),
        "length": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    if part.get_content_maintype() == "text":
        try:
            out["text"] = part.get_content()
        except (LookupError, UnicodeError) as e:  # unknown or lying charset
            out["text"] = None
            out["text_error"] = str(e)
    return out


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    headers = {}
    for name in HEADERS:
        value = msg.get(name)
        headers[name] = None if value is None else str(value)
    parts = [leaf(p) for p in msg.walk() if not p.is_multipart()]
    defects = [type(d).__name__ for p in msg.walk() for d in p.defects]
    json.dump({"headers": headers, "defects": defects, "parts": parts}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
