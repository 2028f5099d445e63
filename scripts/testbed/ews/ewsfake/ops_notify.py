"""Subscribe (pull and streaming), GetEvents, GetStreamingEvents, Unsubscribe.

Every event in a mailbox gets the next number of that mailbox's event log; a watermark is that
number wrapped in an opaque id. A pull subscription made with a Watermark starts after it, and
GetEvents returns what followed the watermark it is given, so a client that resumes from its
last watermark loses nothing across reconnects. Subscription lifetimes count in "minutes" of
config["minute_seconds"] seconds (60 by default; tests shorten it).
"""
import time

from .fields import ews_time
from .soap import M, T, EwsError, child, error, local, ok, operation, raw, response, schema_error, \
    server_version_header
from .store import KIND_SUB, KIND_WM, StoreError, make_id, parse_id
from .xmlout import NS_SOAP, el

EVENT_TYPES = ("CopiedEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent", "NewMailEvent",
               "FreeBusyChangedEvent")
# Events in one GetEvents answer / one streaming notification (MoreEvents says when there are more).
MAX_EVENTS_PER_RESPONSE = 50
# Subscriptions alive at once in the whole fake.
MAX_SUBSCRIPTIONS = 1000
# A streaming subscription without a connection lives this many minutes (as in Exchange).
STREAMING_IDLE_MINUTES = 30


class Subscription:
    def __init__(self, sid, kind, owner, mailbox, folder_ids, event_types, start_seq, timeout_minutes):
        self.id, self.kind, self.owner, self.mailbox = sid, kind, owner, mailbox
        self.folder_ids, self.event_types = folder_ids, event_types
        self.cursor = start_seq  # streaming: last delivered; pull: last acknowledged
        self.timeout_minutes = timeout_minutes
        self.touched = time.monotonic()
        self.stream_token = None  # the GetStreamingEvents connection currently serving it

    def matches(self, ev):
        if ev.kind not in self.event_types:
            return False
        return self.folder_ids is None or bool(ev.folder_ids & self.folder_ids)


def watermark(mailbox, seq):
    return make_id(KIND_WM, mailbox.index, seq)


def _parse_watermark(ctx, text, mailbox):
    try:
        _, idx, seq = parse_id((text or "").strip(), KIND_WM)
    except StoreError:
        raise EwsError("ErrorInvalidWatermark", "The watermark is invalid.") from None
    if idx != mailbox.index or seq > mailbox.event_seq:
        raise EwsError("ErrorInvalidWatermark", "The watermark does not belong to this mailbox.")
    if seq < mailbox.oldest_kept_seq():
        raise EwsError("ErrorInvalidWatermark", "The watermark is older than the events the server keeps "
                       "(subscribe again without a watermark).")
    return seq


def _expired(ctx, sub):
    minute = ctx.config.get("minute_seconds", 60)
    limit = sub.timeout_minutes if sub.kind == "pull" else STREAMING_IDLE_MINUTES
    return sub.stream_token is None and time.monotonic() - sub.touched > limit * minute


def _lookup(ctx, sid):
    sub = ctx.store.subscriptions.get((sid or "").strip())
    if sub is not None and _expired(ctx, sub):
        del ctx.store.subscriptions[sub.id]
        sub = None
    if sub is None:
        raise EwsError("ErrorSubscriptionNotFound", "The specified subscription was not found (it may have expired "
                       "or been unsubscribed).")
    if sub.owner.lower() != ctx.login.lower():
        raise EwsError("ErrorSubscriptionAccessDenied", "The subscription belongs to another account.")
    return sub


@operation("Subscribe")
def subscribe(ctx, op):
    reqs = list(op)
    if len(reqs) != 1:
        raise schema_error("Subscribe needs exactly one subscription request.")
    req = reqs[0]
    kind = local(req.tag)
    if kind == "PushSubscriptionRequest":
        _refuse_push()
    if kind not in ("PullSubscriptionRequest", "StreamingSubscriptionRequest"):
        raise schema_error(f"'{kind}' is not a subscription request.")
    if kind == "StreamingSubscriptionRequest":
        ctx.need("Exchange2010_SP1", "StreamingSubscriptionRequest")
    try:
        all_folders = (req.get("SubscribeToAllFolders") or "false").lower() in ("true", "1")
        if req.get("SubscribeToAllFolders") is not None:
            ctx.need("Exchange2010", "SubscribeToAllFolders")
        folders_elem = req.find(T + "FolderIds")
        folders = [ctx.folder(f) for f in (folders_elem if folders_elem is not None else [])]
        if not folders and not all_folders:
            raise schema_error("a subscription needs FolderIds or SubscribeToAllFolders=\"true\".")
        mailboxes = {f.mailbox for f in folders} or {ctx.mailbox}
        if len(mailboxes) != 1:
            raise EwsError("ErrorInvalidSubscriptionRequest", "All folders of a subscription must be in one mailbox.")
        mailbox = mailboxes.pop()
        types = [e.text for e in child(req, T + "EventTypes")]
        if not types:
            raise schema_error("EventTypes must list at least one EventType.")
        for t in types:
            if t not in EVENT_TYPES:
                raise schema_error(f"EventType '{t}' is invalid.")
            if t == "FreeBusyChangedEvent":
                ctx.need("Exchange2010_SP1", "FreeBusyChangedEvent")
        timeout = None
        start = mailbox.event_seq
        if kind == "PullSubscriptionRequest":
            tt = child(req, T + "Timeout").text
            try:
                timeout = int(tt)
            except (TypeError, ValueError):
                raise schema_error(f"Timeout '{tt}' is not an integer.") from None
            if not 1 <= timeout <= 1440:
                raise schema_error(f"Timeout {timeout} must be between 1 and 1440 minutes.")
            wm = req.find(T + "Watermark")
            if wm is not None:
                start = _parse_watermark(ctx, wm.text, mailbox)
        if len(ctx.store.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise EwsError("ErrorExceededSubscriptionCount", f"The fake holds {MAX_SUBSCRIPTIONS} subscriptions.")
        sid = make_id(KIND_SUB, mailbox.index, ctx.store.next_number())
        sub = Subscription(sid, "pull" if timeout else "streaming", ctx.login, mailbox,
                           None if all_folders else {f.id for f in folders}, set(types), start, timeout)
        ctx.store.subscriptions[sid] = sub
        inner = el("m:SubscriptionId", sid)
        if sub.kind == "pull":
            inner += el("m:Watermark", watermark(mailbox, start))
        return response("Subscribe", [ok("Subscribe", inner)])
    except EwsError as e:
        return response("Subscribe", [error("Subscribe", e)])


def _refuse_push():
    raise EwsError("ErrorInvalidOperation", "Push subscriptions are not modelled by the fake (use pull or "
                   "streaming).")


def event_xml(sub, ev):
    inner = el("t:Watermark", watermark(sub.mailbox, ev.seq)) + el("t:TimeStamp", ews_time(ev.when))
    if getattr(ev, "created_folder_id", None):
        inner += el("t:FolderId", None, {"Id": ev.created_folder_id})
    elif ev.item_id:
        inner += el("t:ItemId", None, {"Id": ev.item_id, "ChangeKey": ev.item_ck})
    inner += el("t:ParentFolderId", None, {"Id": ev.folder_id, "ChangeKey": ev.folder_ck})
    if ev.kind in ("MovedEvent", "CopiedEvent"):
        inner += el("t:OldItemId", None, {"Id": ev.old_item_id})
        inner += el("t:OldParentFolderId", None, {"Id": ev.old_folder_id, "ChangeKey": ev.old_folder_ck})
    return f"<t:{ev.kind}>{inner}</t:{ev.kind}>"


def pending(sub, after_seq):
    """Matching events after `after_seq`: (events, more, last seq scanned)."""
    out, last = [], after_seq
    for ev in sub.mailbox.events:
        if ev.seq <= after_seq:
            continue
        last = ev.seq
        if sub.matches(ev):
            out.append(ev)
            if len(out) >= MAX_EVENTS_PER_RESPONSE:
                return out, last < sub.mailbox.event_seq, last
    return out, False, last


@operation("GetEvents")
def get_events(ctx, op):
    try:
        sub = _lookup(ctx, child(op, M + "SubscriptionId").text)
        if sub.kind != "pull":
            raise EwsError("ErrorInvalidSubscription", "GetEvents needs a pull subscription (this one is streaming).")
        wm_text = child(op, M + "Watermark").text
        after = _parse_watermark(ctx, wm_text, sub.mailbox)
        sub.touched = time.monotonic()
        sub.cursor = after
        events, more, last = pending(sub, after)
        inner = el("t:SubscriptionId", sub.id) + el("t:PreviousWatermark", wm_text.strip())
        inner += el("t:MoreEvents", "true" if more else "false")
        if events:
            inner += "".join(event_xml(sub, ev) for ev in events)
        else:
            inner += raw("t:StatusEvent", el("t:Watermark", watermark(sub.mailbox, last)))
        return response("GetEvents", [ok("GetEvents", raw("m:Notification", inner))])
    except EwsError as e:
        return response("GetEvents", [error("GetEvents", e)])


@operation("Unsubscribe")
def unsubscribe(ctx, op):
    try:
        sub = _lookup(ctx, child(op, M + "SubscriptionId").text)
        del ctx.store.subscriptions[sub.id]
        ctx.store.cond.notify_all()
        return response("Unsubscribe", [ok("Unsubscribe")])
    except EwsError as e:
        return response("Unsubscribe", [error("Unsubscribe", e)])


def _stream_envelope(config, inner):
    """One chunk of a GetStreamingEvents response, shaped like Exchange's: an unprefixed
    <Envelope> in the SOAP namespace with soap11:-prefixed Header and Body and no XML
    declaration (ews-javascript-api, like the EWS Managed API, looks for "<Envelope" and
    "</Envelope>" literally to cut the stream into documents)."""
    msg = f'<m:GetStreamingEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>' \
          f"{inner}</m:GetStreamingEventsResponseMessage>"
    return (f'<Envelope xmlns="{NS_SOAP}"><soap11:Header xmlns:soap11="{NS_SOAP}">{server_version_header(config)}'
            f'</soap11:Header><soap11:Body xmlns:soap11="{NS_SOAP}">{response("GetStreamingEvents", [msg])}'
            "</soap11:Body></Envelope>").encode("utf-8")


@operation("GetStreamingEvents", since="Exchange2010_SP1")
def get_streaming_events(ctx, op):
    ids = [e.text for e in child(op, M + "SubscriptionIds")]
    if not ids:
        raise schema_error("SubscriptionIds must list at least one subscription.")
    ct = child(op, M + "ConnectionTimeout").text
    try:
        minutes = int(ct)
    except (TypeError, ValueError):
        raise schema_error(f"ConnectionTimeout '{ct}' is not an integer.") from None
    if not 1 <= minutes <= 30:
        raise schema_error(f"ConnectionTimeout {minutes} must be between 1 and 30 minutes.")
    subs, bad = [], []
    for sid in ids:
        try:
            sub = _lookup(ctx, sid)
            if sub.kind != "streaming":
                raise EwsError("ErrorInvalidSubscription", "GetStreamingEvents needs streaming subscriptions.")
            subs.append(sub)
        except EwsError as e:
            bad.append((sid, e))
    if bad:
        e = bad[0][1]
        extra = raw("m:ErrorSubscriptionIds", "".join(el("m:SubscriptionId", sid) for sid, _ in bad))
        return response("GetStreamingEvents", [error("GetStreamingEvents", e, extra)])
    token = object()
    for sub in subs:
        sub.stream_token = token  # a newer connection takes the subscription over
    store, config = ctx.store, ctx.config
    generation = store.generation
    minute = config.get("minute_seconds", 60)
    keepalive = config.get("streaming_keepalive_seconds", 40)

    def run(emit):
        end = time.monotonic() + minutes * minute
        emit(_stream_envelope(config, el("m:ConnectionStatus", "OK")))
        next_keepalive = time.monotonic() + keepalive
        try:
            while True:
                with store.cond:
                    notes, closed = [], False
                    while True:
                        if store.generation != generation or any(s.stream_token is not token or
                                                                 store.subscriptions.get(s.id) is not s
                                                                 for s in subs):
                            closed = True
                            break
                        for s in subs:
                            events, _, last = pending(s, s.cursor)
                            s.cursor = last
                            if events:
                                notes.append((s, events))
                        now = time.monotonic()
                        if notes or now >= end or now >= next_keepalive:
                            break
                        store.cond.wait(min(end, next_keepalive) - now)
                    for s in subs:
                        s.touched = time.monotonic()
                if notes:
                    body = "".join(raw("m:Notification", el("t:SubscriptionId", s.id) +
                                       "".join(event_xml(s, ev) for ev in evs)) for s, evs in notes)
                    emit(_stream_envelope(config, raw("m:Notifications", body)))
                if closed or time.monotonic() >= end:
                    emit(_stream_envelope(config, el("m:ConnectionStatus", "Closed")))
                    return
                if time.monotonic() >= next_keepalive:
                    emit(_stream_envelope(config, el("m:ConnectionStatus", "OK")))
                    next_keepalive = time.monotonic() + keepalive
        finally:
            with store.lock:
                for s in subs:
                    if s.stream_token is token:
                        s.stream_token = None
                        s.touched = time.monotonic()
    return run
