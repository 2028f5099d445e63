"""CreateItem (messages: SaveOnly / SendOnly / SendAndSaveCopy, from MimeContent or from
properties; ReplyToItem / ReplyAllToItem / ForwardItem) and SendItem. Mail "sent" to a user of
the fake lands in that user's Inbox; every sent message is also kept in store.sent_log."""
import base64
import binascii
import re

from . import mime as mimelib
from .fields import ews_time
from .soap import M, T, EwsError, StoreError, child, error, from_store, local, ok, operation, raw, response, \
    schema_error
from .ops_items import id_only, item_id_elems

_RE_PREFIX = re.compile(r"^\s*(re|fw|fwd|aw|wg)\s*:", re.IGNORECASE)


def _mailboxes(elem):
    out = []
    if elem is None:
        return out
    for m in elem:
        if local(m.tag) != "Mailbox":
            raise schema_error(f"'{local(m.tag)}' is not a t:Mailbox.")
        addr = (m.findtext(T + "EmailAddress") or "").strip()
        if not addr:
            raise EwsError("ErrorInvalidRecipients", "A recipient has no EmailAddress.")
        out.append(((m.findtext(T + "Name") or "").strip(), addr))
    return out


def _self_pair(mailbox):
    return (mailbox.display_name, mailbox.address)


def _saved_folder(ctx, op, default_distinguished, mailbox):
    sf = op.find(M + "SavedItemFolderId")
    if sf is None:
        return mailbox.distinguished[default_distinguished]
    ids = list(sf)
    if len(ids) != 1:
        raise schema_error("SavedItemFolderId must hold exactly one folder id.")
    return ctx.folder(ids[0])


def send(ctx, sender_mailbox, mime_bytes, recipients):
    """Delivers to users of the fake (Bcc stripped from their copy); logs every message."""
    if not recipients:
        raise EwsError("ErrorInvalidRecipients", "At least one recipient is required, but none were found.")
    delivered_copy = re.sub(rb"(?im)^bcc:.*(\r?\n[ \t].*)*\r?\n", b"", mime_bytes, count=1)
    delivered = []
    for _, addr in recipients:
        target = ctx.store.by_address.get(addr.lower())
        if target is not None and target.user not in delivered:
            target.add_item(target.distinguished["inbox"], delivered_copy)
            delivered.append(target.user)
    s = mimelib.Summary(mime_bytes)
    ctx.store.sent_log.append({
        "from": sender_mailbox.address, "to": [a for _, a in recipients], "subject": s.subject,
        "message_id": s.message_id, "delivered_to": delivered, "in_reply_to": s.in_reply_to,
        "by": ctx.login, "operation": ctx.operation,
    })
    del ctx.store.sent_log[:-1000]  # bounded: the last 1000 sent messages


def _body_of(elem, tag):
    b = elem.find(T + tag)
    if b is None:
        return None, "Text"
    bt = b.get("BodyType", "Text")
    if bt not in ("Text", "HTML"):
        raise schema_error(f"BodyType '{bt}' must be Text or HTML.")
    return b.text or "", bt


def _message_from_properties(ctx, msg_elem, sender):
    subject = msg_elem.findtext(T + "Subject") or ""
    body, body_type = _body_of(msg_elem, "Body")
    to = _mailboxes(msg_elem.find(T + "ToRecipients"))
    cc = _mailboxes(msg_elem.find(T + "CcRecipients"))
    bcc = _mailboxes(msg_elem.find(T + "BccRecipients"))
    importance = msg_elem.findtext(T + "Importance")
    data = mimelib.build_message(_self_pair(sender), to, cc, bcc, subject, body or "", body_type,
                                 importance=importance, domain=ctx.store.mail_domain)
    return data, to + cc + bcc


def _message_from_mime(ctx, mime_elem, sender):
    try:
        data = base64.b64decode((mime_elem.text or "").strip(), validate=False)
    except (binascii.Error, ValueError):
        raise EwsError("ErrorMimeContentInvalidBase64String", "The MIME content is not a valid Base64 string.") \
            from None
    if not data.strip():
        raise EwsError("ErrorMimeContentConversionFailed", "The MIME content is empty.")
    data = mimelib.ensure_headers(data, _self_pair(sender), ctx.store.mail_domain)
    s = mimelib.Summary(data)
    return data, s.to + s.cc + s.bcc


def _quote(original):
    s = original.summary
    who = mimelib._fmt_addr(s.from_) if s.from_ else ""
    head = (f"\r\n\r\n-----Original Message-----\r\nFrom: {who}\r\nSent: {ews_time(s.date_sent) or ''}\r\n"
            f"To: {', '.join(a for _, a in s.to)}\r\nSubject: {s.subject}\r\n\r\n")
    return head + (s.body_text or "")


def _response_object(ctx, elem, kind, sender):
    ref = child(elem, T + "ReferenceItemId")
    original = ctx.item(ref)
    s = original.summary
    new_body, body_type = _body_of(elem, "NewBodyContent")
    if new_body is None:
        new_body, body_type = _body_of(elem, "Body")
    prefix = "FW: " if kind == "ForwardItem" else "RE: "
    subject = elem.findtext(T + "Subject")
    if subject is None:
        subject = s.subject if _RE_PREFIX.match(s.subject or "") and prefix == "RE: " else prefix + (s.subject or "")
    me = sender.address.lower()
    to = _mailboxes(elem.find(T + "ToRecipients"))
    cc = _mailboxes(elem.find(T + "CcRecipients"))
    if kind in ("ReplyToItem", "ReplyAllToItem") and not to:
        to = list(s.reply_to or ([s.from_] if s.from_ else []))
        if kind == "ReplyAllToItem":
            seen = {a.lower() for _, a in to}
            for pair in s.to + s.cc:
                if pair[1].lower() not in seen and pair[1].lower() != me:
                    (to if pair in s.to else cc).append(pair)
                    seen.add(pair[1].lower())
    if kind == "ForwardItem" and not to:
        raise EwsError("ErrorInvalidRecipients", "ForwardItem needs ToRecipients.")
    bcc = _mailboxes(elem.find(T + "BccRecipients"))
    text = (new_body or "")
    if body_type == "HTML":
        text = text + "<hr>" + "<pre>" + mimelib_escape(_quote(original)) + "</pre>"
    else:
        text = text + _quote(original)
    refs = " ".join(x for x in [s.references, s.message_id] if x) or None
    data = mimelib.build_message(_self_pair(sender), to, cc, bcc, subject, text, body_type,
                                 in_reply_to=s.message_id, references=refs, domain=ctx.store.mail_domain)
    return data, to + cc + bcc


def mimelib_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@operation("CreateItem")
def create_item(ctx, op):
    disposition = op.get("MessageDisposition")
    if disposition not in (None, "SaveOnly", "SendOnly", "SendAndSaveCopy"):
        raise schema_error(f"MessageDisposition '{disposition}' is invalid.")
    items = list(child(op, M + "Items"))
    if not items:
        raise schema_error("Items must contain at least one item.")
    out = []
    for elem in items:
        kind = local(elem.tag)
        try:
            if kind not in ("Message", "ReplyToItem", "ReplyAllToItem", "ForwardItem"):
                raise EwsError("ErrorInvalidOperation", f"Creating a {kind} is not modelled by the fake "
                               "(messages, replies and forwards are).")
            if disposition is None:
                raise EwsError("ErrorMessageDispositionRequired", "MessageDisposition is required for this "
                               "operation (creating a message item).")
            sender = ctx.mailbox
            if op.find(M + "SavedItemFolderId") is not None:
                if disposition == "SendOnly":
                    raise EwsError("ErrorInvalidSavedItemFolder", "SavedItemFolderId cannot be used with "
                                   "MessageDisposition SendOnly.")
                sender = _saved_folder(ctx, op, "drafts", ctx.mailbox).mailbox
            if kind == "Message":
                mime_elem = elem.find(T + "MimeContent")
                if mime_elem is not None:
                    data, recipients = _message_from_mime(ctx, mime_elem, sender)
                else:
                    data, recipients = _message_from_properties(ctx, elem, sender)
                is_read_text = elem.findtext(T + "IsRead")
                is_read = (is_read_text or "").strip().lower() in ("true", "1")
            else:
                data, recipients = _response_object(ctx, elem, kind, sender)
                is_read = True
            if disposition == "SaveOnly":
                folder = _saved_folder(ctx, op, "drafts", sender)
                is_draft = folder is folder.mailbox.distinguished["drafts"] or kind != "Message"
                item = folder.mailbox.add_item(folder, data, is_read=is_read or is_draft, new_mail=False,
                                               is_draft=is_draft, is_from_me=True)
                out.append(ok("CreateItem", raw("m:Items", id_only(item))))
                continue
            send(ctx, sender, data, recipients)
            if disposition == "SendAndSaveCopy":
                folder = _saved_folder(ctx, op, "sentitems", sender)
                folder.mailbox.add_item(folder, data, is_read=True, new_mail=False, is_from_me=True)
            out.append(ok("CreateItem", "<m:Items/>"))
        except EwsError as e:
            out.append(error("CreateItem", e, "<m:Items/>"))
        except StoreError as e:
            out.append(error("CreateItem", from_store(e), "<m:Items/>"))
    return response("CreateItem", out)


@operation("SendItem")
def send_item(ctx, op):
    save = (op.get("SaveItemToFolder") or "").lower()
    if save not in ("true", "false", "1", "0"):
        raise schema_error("SendItem needs the SaveItemToFolder attribute (true or false).")
    out = []
    for ie in item_id_elems(op, "ItemIds"):
        try:
            item = ctx.item(ie)
            mbx = item.mailbox
            s = item.summary
            send(ctx, mbx, item.mime, s.to + s.cc + s.bcc)
            if save in ("true", "1"):
                folder = _saved_folder(ctx, op, "sentitems", mbx)
                new = mbx.move_item(item, folder)
                new.is_draft, new.is_read = False, True
            else:
                mbx.remove_item(item)
            out.append(ok("SendItem"))
        except EwsError as e:
            out.append(error("SendItem", e))
    return response("SendItem", out)
