"""RFC 5322 messages: summary fields parsed from the raw bytes (kept unchanged in the store),
and messages built for CreateItem / reply / forward. Python's email package, plus an RFC 2047
decoder of our own so that characters Exchange would write as references (controls, lone
surrogates from UTF-8-encoded surrogates, noncharacters) survive into the summary fields.
"""
import email
import email.policy
import email.utils
import hashlib
import quopri
import base64
import re
from datetime import datetime, timezone
from email.message import EmailMessage

# Header values longer than this are cut (a hostile message cannot make summaries huge).
MAX_HEADER_CHARS = 16384
# Bodies kept for <t:Body> are cut to this many characters (the MIME keeps everything).
MAX_BODY_CHARS = 1 << 20

_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def _decode_bytes(data: bytes, charset: str) -> str:
    charset = (charset or "utf-8").split("*", 1)[0].lower()
    if charset in ("utf-8", "utf8", "us-ascii", "ascii"):
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace")
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("latin-1")


def decode_header_bytes(value: bytes) -> str:
    """RFC 2047 words decoded; raw 8-bit text taken as UTF-8 (surrogates kept), else Latin-1."""
    value = re.sub(rb"\r?\n(?=[ \t])", b"", value)
    out, pos, last_was_word = [], 0, False
    for m in _ENCODED_WORD.finditer(value):
        between = value[pos:m.start()]
        if not (last_was_word and between.strip(b" \t") == b""):
            out.append(_decode_bytes(between, "utf-8"))
        charset, enc, text = m.group(1).decode("ascii", "replace"), m.group(2).upper(), m.group(3)
        try:
            if enc == b"B":
                data = base64.b64decode(text + b"=" * (-len(text) % 4))
            else:
                data = quopri.decodestring(text.replace(b"_", b" "), header=True)
            out.append(_decode_bytes(data, charset))
        except (ValueError, base64.binascii.Error):
            out.append(m.group(0).decode("ascii", "replace"))
        pos, last_was_word = m.end(), True
    out.append(_decode_bytes(value[pos:], "utf-8"))
    return "".join(out)[:MAX_HEADER_CHARS].strip()


def raw_headers(mime: bytes) -> dict:
    """Header name (lower case) -> list of raw values (bytes, folding kept), from the bytes
    themselves: the email package would already have decoded 8-bit text its own way."""
    m = re.search(rb"\r?\n\r?\n", mime)
    head = mime[:m.start()] if m else mime
    out, name, value = {}, None, b""
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t") and name is not None:
            value += b"\r\n" + line
            continue
        if name is not None:
            out.setdefault(name, []).append(value)
        name, sep, rest = line.partition(b":")
        if not sep:
            name = None
            continue
        name, value = name.strip().lower().decode("ascii", "replace"), rest.strip(b" \t")
    if name is not None:
        out.setdefault(name, []).append(value)
    return out


def _raw_header(headers, name):
    v = headers.get(name.lower())
    return v[0] if v else None


def _addresses(msg, name):
    raw = _raw_header(msg, name)
    if raw is None:
        return []
    text = re.sub(rb"\r?\n(?=[ \t])", b"", raw).decode("ascii", "surrogateescape")
    out = []
    for display, addr in email.utils.getaddresses([text]):
        if not addr and not display:
            continue
        name = decode_header_bytes(display.encode("ascii", "surrogateescape")) if display else ""
        out.append((name, addr.encode("ascii", "surrogateescape").decode("utf-8", "replace")))
    return out


def _msgids(text):
    return re.findall(r"<[^<>\s]+>", text or "")


def conversation_id_for(root_message_id: str) -> bytes:
    return hashlib.sha1(root_message_id.encode("utf-8", "surrogatepass")).digest()[:16]


class Summary:
    """The fields EWS exposes, parsed once from the MIME."""

    def __init__(self, mime: bytes):
        msg = raw_headers(mime)
        subj = _raw_header(msg, "Subject")
        self.subject = decode_header_bytes(subj) if subj is not None else ""
        self.from_ = (_addresses(msg, "From") or [None])[0]
        self.sender = (_addresses(msg, "Sender") or [self.from_])[0]
        self.to = _addresses(msg, "To")
        self.cc = _addresses(msg, "Cc")
        self.bcc = _addresses(msg, "Bcc")
        self.reply_to = _addresses(msg, "Reply-To")
        mid = _msgids(decode_header_bytes(_raw_header(msg, "Message-ID") or b""))
        self.message_id = mid[0] if mid else None
        self.in_reply_to = " ".join(_msgids(decode_header_bytes(_raw_header(msg, "In-Reply-To") or b""))) or None
        self.references = " ".join(_msgids(decode_header_bytes(_raw_header(msg, "References") or b""))) or None
        self.date_sent = None
        date_raw = _raw_header(msg, "Date")
        if date_raw:
            try:
                d = email.utils.parsedate_to_datetime(date_raw.decode("ascii", "replace").strip())
                self.date_sent = d if d.tzinfo else d.replace(tzinfo=timezone.utc)
            except (TypeError, ValueError, IndexError):
                self.date_sent = None
        imp = (_raw_header(msg, "Importance") or _raw_header(msg, "X-Priority") or b"")
        imp = imp.decode("ascii", "replace").strip().lower()
        self.importance = "High" if imp in ("high", "1", "2") else "Low" if imp in ("low", "4", "5") else "Normal"
        self.has_attachments = False
        self.body_text, self.body_html = "", None
        try:
            full = email.message_from_bytes(mime, policy=email.policy.default)
            for part in full.walk():
                if part.get_content_disposition() == "attachment":
                    self.has_attachments = True
            body = full.get_body(preferencelist=("plain", "html"))
            if body is not None:
                content = body.get_content()
                if body.get_content_subtype() == "html":
                    self.body_html = content[:MAX_BODY_CHARS]
                    self.body_text = re.sub(r"<[^>]*>", "", content)[:MAX_BODY_CHARS]
                else:
                    self.body_text = content[:MAX_BODY_CHARS]
            html = full.get_body(preferencelist=("html",))
            if html is not None and self.body_html is None:
                self.body_html = html.get_content()[:MAX_BODY_CHARS]
        except Exception:  # a broken body must not make the message unlistable
            pass
        root = (self.references.split()[0] if self.references else None) or self.in_reply_to or self.message_id
        self.thread_root = root or ("<no-id-" + hashlib.sha1(mime).hexdigest() + ">")


def _fmt_addr(pair):
    name, addr = pair
    return email.utils.formataddr((name, addr)) if name else addr


def build_message(from_pair, to, cc, bcc, subject, body, body_type="Text", in_reply_to=None, references=None,
                  importance=None, domain="localhost") -> bytes:
    """A new RFC 5322 message (UTF-8), as Exchange would create it from EWS properties."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = _fmt_addr(from_pair)
    if to:
        msg["To"] = ", ".join(_fmt_addr(p) for p in to)
    if cc:
        msg["Cc"] = ", ".join(_fmt_addr(p) for p in cc)
    if bcc:
        msg["Bcc"] = ", ".join(_fmt_addr(p) for p in bcc)
    msg["Subject"] = subject or ""
    msg["Date"] = email.utils.format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    if importance and importance != "Normal":
        msg["Importance"] = importance
    if body_type.upper() == "HTML":
        msg.set_content(body or "", subtype="html")
    else:
        msg.set_content(body or "")
    return msg.as_bytes()


def ensure_headers(mime: bytes, from_pair, domain) -> bytes:
    """A MimeContent message being sent gets Message-ID, Date and From if it lacks them."""
    head_end = mime.find(b"\r\n\r\n")
    sep = b"\r\n"
    if head_end < 0:
        head_end = mime.find(b"\n\n")
        sep = b"\n"
    head = mime[:head_end] if head_end >= 0 else mime
    add = b""
    if not re.search(rb"(?im)^message-id:", head):
        add += b"Message-ID: " + email.utils.make_msgid(domain=domain).encode() + sep
    if not re.search(rb"(?im)^date:", head):
        add += b"Date: " + email.utils.format_datetime(datetime.now(timezone.utc)).encode() + sep
    if not re.search(rb"(?im)^from:", head) and from_pair:
        add += b"From: " + _fmt_addr(from_pair).encode("utf-8") + sep
    return add + mime
