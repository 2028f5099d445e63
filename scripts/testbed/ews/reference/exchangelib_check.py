#!/usr/bin/python3
"""Reference check: Debian's python3-exchangelib (4.9) against the fake EWS server.

  exchangelib_check.py ENV_FILE        (ENV_FILE: what `ews.sh start` printed)

Runs the same mail flow twice, with Basic and with NTLM: folders (shallow and deep), find with
filters and paging, MIME, IsRead and follow-up flag, move, delete (three kinds), send, reply,
pull subscription with watermark resume, streaming subscription; then the errors a strict
server must give. Every step asserts on results; exit 0 only when all matched. Needs
REQUESTS_CA_BUNDLE (the testbed CA) and, for NTLM, OPENSSL_CONF with the legacy provider
(ews.sh reference-check sets both).
"""
import json
import sys
import threading
import time
import urllib.request

from exchangelib import (BASIC, DELEGATE, IMPERSONATION, NTLM, Account, Configuration, Credentials, FaultTolerance,
                         Mailbox, Message, Version)
from exchangelib.errors import (ErrorAccessDenied, ErrorImpersonateUserDenied, ErrorInvalidIdMalformed,
                                ErrorIrresolvableConflict, ErrorItemNotFound, ErrorServerBusy)
from exchangelib.fields import EWSElementField
from exchangelib.properties import EWSElement
from exchangelib.fields import ChoiceField, Choice, DateTimeField
from exchangelib.items import Message as _Msg
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2013_SP1

FAILURES = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{(' -- ' + detail) if detail and not ok else ''}", flush=True)
    if not ok:
        FAILURES.append(name)
    return ok


def expect_error(name, exc_type, fn):
    try:
        fn()
    except exc_type as e:
        return check(name, True, str(e))
    except Exception as e:  # noqa: BLE001 - report anything else as a mismatch
        return check(name, False, f"expected {exc_type.__name__}, got {type(e).__name__}: {e}")
    return check(name, False, f"expected {exc_type.__name__}, got no error")


# exchangelib 4.9 has no follow-up flag field; add item:Flag (Exchange2013+) through
# exchangelib's own field machinery so that the check sends a real SetItemField item:Flag.
class Flag(EWSElement):
    ELEMENT_NAME = "Flag"
    flag_status = ChoiceField(field_uri="FlagStatus", choices={Choice("NotFlagged"), Choice("Flagged"),
                                                                Choice("Complete")})
    start_date = DateTimeField(field_uri="StartDate")
    due_date = DateTimeField(field_uri="DueDate")
    complete_date = DateTimeField(field_uri="CompleteDate")


class FlagField(EWSElementField):
    def to_xml(self, value, version):  # <t:Flag> itself, not wrapped in a second <t:Flag>
        return value.to_xml(version=version)


_Msg.add_field(FlagField("flag", field_uri="item:Flag", value_cls=Flag, supported_from=EXCHANGE_2013),
               insert_after="conversation_id")


class Control:
    def __init__(self, url):
        self.url = url

    def call(self, method, path, body=None, **query):
        q = urllib.parse.urlencode(query)
        req = urllib.request.Request(f"{self.url}/{path}{'?' + q if q else ''}", data=body, method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def deliver(self, user, raw, folder="INBOX"):
        return self.call("POST", "deliver", raw, user=user, folder=folder)


def message(i, sender, subject, to="alice@testlab.test", extra=b""):
    return (f"From: {sender.title()} <{sender}@testlab.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <ref-{i}-{time.time_ns()}@testlab.test>\r\nDate: Mon, 01 Jan 2024 10:{i % 60:02d}:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n").encode() + extra + \
        f"\r\nBody of message {i}.\r\n".encode()


def account(env, user, auth, address=None, access=DELEGATE):
    login = f"TESTLAB\\{user}" if auth == NTLM else f"{user}@testlab.test"
    cfg = Configuration(service_endpoint=env["EWS_URL"], credentials=Credentials(login, env[f"{user.upper()}_PASSWORD"]),
                        auth_type=auth, version=Version(build=EXCHANGE_2013_SP1, api_version="Exchange2013_SP1"))
    return Account(address or f"{user}@testlab.test", config=cfg, autodiscover=False, access_type=access)


def run_flow(env, ctl, auth):
    tag = f"[{auth}]"
    ctl.call("POST", "reset")
    # 12 messages: Job 1..8 from bob, Note 1..4 from carol; one planted in Inbox/Projects.
    for i in range(1, 9):
        ctl.deliver("alice", message(i, "bob", f"Job {i}"))
    for i in range(1, 5):
        ctl.deliver("alice", message(100 + i, "carol", f"Note {i}"))
    ctl.deliver("alice", message(200, "bob", "Planning"), "INBOX/Projects")
    # Characters XML 1.0 forbids: the raw message keeps them, the summary gets references.
    weird_subject = "=?utf-8?b?" + __import__("base64").b64encode("ctl\x01\x08\x0b\x1f-nc\ufffe-end".encode()).decode() + "?="
    weird = ctl.deliver("alice", message(300, "bob", weird_subject))

    a = account(env, "alice", auth)
    # -- folders ---------------------------------------------------------------------------
    inbox = a.inbox
    check(f"{tag} GetFolder inbox", inbox.name == "Inbox" and inbox.total_count == 13, f"{inbox.name} {inbox.total_count}")
    children = [f.name for f in inbox.children]
    check(f"{tag} FindFolder shallow (Inbox children)", children == ["Projects"], str(children))
    deep = {f.name: f for f in a.msg_folder_root.walk()}
    check(f"{tag} FindFolder deep", {"Inbox", "Projects", "Sent Items", "Deleted Items", "Drafts"} <= set(deep),
          str(sorted(deep)))
    projects = inbox / "Projects"
    check(f"{tag} folder path Inbox/Projects", projects.total_count == 1, str(projects.total_count))

    # -- find with filter + paging ---------------------------------------------------------
    qs = inbox.filter(subject__contains="Job").order_by("-datetime_received")
    qs.page_size = 3
    jobs = list(qs.only("subject", "is_read", "sender"))
    check(f"{tag} FindItem Contains + paging (8 jobs, pages of 3)",
          [m.subject for m in jobs] == [f"Job {i}" for i in range(8, 0, -1)], str([m.subject for m in jobs]))
    from_carol = inbox.filter(sender="carol@testlab.test").count()
    check(f"{tag} FindItem IsEqualTo message:Sender", from_carol == 4, str(from_carol))
    unread = inbox.filter(is_read=False).count()
    check(f"{tag} FindItem IsEqualTo message:IsRead", unread == 13, str(unread))
    page = list(inbox.all().order_by("subject")[2:5])
    check(f"{tag} FindItem slice via IndexedPageItemView offset", [m.subject for m in page] == ["Job 2", "Job 3", "Job 4"],
          str([m.subject for m in page]))

    # -- MIME -----------------------------------------------------------------------------
    job3 = inbox.get(subject="Job 3")
    mime = job3.mime_content
    check(f"{tag} GetItem MimeContent", b"Subject: Job 3" in mime and b"Body of message 3." in mime, repr(mime[:80]))
    w = inbox.get(id=weird["item_id"])
    check(f"{tag} invalid XML characters: item still readable, raw MIME intact",
          w.mime_content is not None and weird_subject.encode() in w.mime_content and (w.subject or "").endswith("-end"),
          repr(w.subject))

    # -- IsRead and flag -------------------------------------------------------------------
    old_ck = job3.changekey
    job3.is_read = True
    job3.save(update_fields=["is_read"])
    check(f"{tag} UpdateItem IsRead gives a new ChangeKey", job3.changekey != old_ck)
    check(f"{tag} IsRead visible", inbox.get(subject="Job 3").is_read is True)
    job3.flag = Flag(flag_status="Flagged")
    job3.save(update_fields=["flag"])
    fl = inbox.get(subject="Job 3").flag
    check(f"{tag} UpdateItem item:Flag", fl is not None and fl.flag_status == "Flagged", repr(fl))
    stale = inbox.get(subject="Job 4")
    fresh = inbox.get(subject="Job 4")
    fresh.is_read = True
    fresh.save(update_fields=["is_read"])
    stale.is_read = False
    expect_error(f"{tag} stale ChangeKey + NeverOverwrite -> ErrorIrresolvableConflict", ErrorIrresolvableConflict,
                 lambda: stale.save(update_fields=["is_read"], conflict_resolution="NeverOverwrite"))

    # -- move, delete ------------------------------------------------------------------------
    job5 = inbox.get(subject="Job 5")
    old_id = job5.id
    job5.move(projects)
    check(f"{tag} MoveItem gives a new id", job5.id != old_id and projects.filter(subject="Job 5").count() == 1)
    gone = list(a.fetch(ids=[(old_id, None)]))
    check(f"{tag} old id after move -> ErrorItemNotFound", isinstance(gone[0], ErrorItemNotFound), repr(gone))
    inbox.get(subject="Job 6").move_to_trash()
    check(f"{tag} DeleteItem MoveToDeletedItems", a.trash.filter(subject="Job 6").count() == 1)
    inbox.get(subject="Job 7").soft_delete()
    inbox.get(subject="Job 8").delete()
    left = sorted(m.subject for m in inbox.filter(subject__startswith="Job"))
    check(f"{tag} DeleteItem SoftDelete + HardDelete", left == ["Job 1", "Job 2", "Job 3", "Job 4"], str(left))

    # -- send, reply -------------------------------------------------------------------------
    m = Message(account=a, folder=a.sent, subject=f"Report {auth}", body="Numbers attached.",
                to_recipients=[Mailbox(email_address="bob@testlab.test")])
    m.send_and_save()
    check(f"{tag} CreateItem SendAndSaveCopy: copy in Sent Items", a.sent.filter(subject=f"Report {auth}").count() == 1)
    b = account(env, "bob", auth)
    got = b.inbox.filter(subject=f"Report {auth}")
    check(f"{tag} sent message delivered to bob", got.count() == 1)
    original = got.get()
    original.reply(subject=f"RE: Report {auth}", body="Thanks.")
    reply = inbox.get(subject=f"RE: Report {auth}")
    sent_copy = a.sent.get(subject=f"Report {auth}")
    check(f"{tag} ReplyToItem reaches alice in the same conversation",
          reply.conversation_id is not None and reply.conversation_id.id == sent_copy.conversation_id.id,
          f"{reply.conversation_id} vs {sent_copy.conversation_id}")

    # -- pull subscription ---------------------------------------------------------------------
    sub_id, wm0 = inbox.subscribe_to_pull(event_types=["NewMailEvent"], timeout=5)
    ctl.deliver("alice", message(400, "carol", "Pulled 1"))
    notes = list(inbox.get_events(sub_id, wm0))
    events = [e for n in notes for e in n.events if type(e).__name__ == "NewMailEvent"]
    check(f"{tag} Subscribe pull + GetEvents: NewMailEvent", len(events) == 1, str(notes))
    wm1 = events[0].watermark if events else wm0
    ctl.deliver("alice", message(401, "carol", "Pulled 2"))
    inbox.unsubscribe(sub_id)
    sub2, _ = inbox.subscribe_to_pull(event_types=["NewMailEvent"], watermark=wm1, timeout=5)
    again = [e for n in inbox.get_events(sub2, wm1) for e in n.events if type(e).__name__ == "NewMailEvent"]
    check(f"{tag} resume from watermark: arrival after it redelivered", len(again) == 1 and
          inbox.get(id=again[0].item_id.id).subject == "Pulled 2", str(again))
    inbox.unsubscribe(sub2)

    # -- streaming subscription ----------------------------------------------------------------
    sid = inbox.subscribe_to_streaming(event_types=["NewMailEvent"])
    timer = threading.Timer(1.0, lambda: ctl.deliver("alice", message(402, "carol", "Streamed")))
    timer.start()
    streamed = []
    for n in inbox.get_streaming_events(sid, connection_timeout=1, max_notifications_returned=1):
        streamed += [e for e in n.events if type(e).__name__ == "NewMailEvent"]
    timer.join()
    check(f"{tag} Subscribe streaming + GetStreamingEvents: NewMailEvent", len(streamed) == 1 and
          inbox.get(id=streamed[0].item_id.id).subject == "Streamed", str(streamed))
    inbox.unsubscribe(sid)


def run_errors(env, ctl):
    tag = "[errors]"
    a = account(env, "alice", BASIC)
    bad = list(a.fetch(ids=[("bm90LWFuLWlk", None)]))
    check(f"{tag} malformed id -> ErrorInvalidIdMalformed", isinstance(bad[0], ErrorInvalidIdMalformed), repr(bad))
    shared = account(env, "alice", BASIC, address="bob@testlab.test")
    check(f"{tag} delegate: alice reads bob's inbox (granted)", shared.inbox.total_count >= 0)
    expect_error(f"{tag} delegate: alice on carol's inbox -> ErrorAccessDenied", ErrorAccessDenied,
                 lambda: account(env, "alice", BASIC, address="carol@testlab.test").inbox.total_count)
    imp = account(env, "svc", BASIC, address="carol@testlab.test", access=IMPERSONATION)
    check(f"{tag} impersonation: svc acts as carol", imp.inbox.name == "Inbox")
    expect_error(f"{tag} impersonation by alice -> ErrorImpersonateUserDenied", ErrorImpersonateUserDenied,
                 lambda: account(env, "alice", BASIC, address="carol@testlab.test", access=IMPERSONATION).inbox.name)
    ctl.call("POST", "busy", count=1, backoff_ms=250)
    try:
        a.inbox.refresh()
        check(f"{tag} ErrorServerBusy with BackOffMilliseconds", False, "no error")
    except ErrorServerBusy as e:
        check(f"{tag} ErrorServerBusy with BackOffMilliseconds", e.back_off == 0.25, f"back_off={e.back_off}")
    ctl.call("POST", "busy", count=1, backoff_ms=200)
    a2 = account(env, "alice", BASIC)
    a2.protocol.config.retry_policy = FaultTolerance(max_wait=10)
    t0 = time.monotonic()
    name = a2.inbox.name
    check(f"{tag} ErrorServerBusy: FaultTolerance retries after the back-off", name == "Inbox" and
          time.monotonic() - t0 >= 0.2)


def main():
    env = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[1]) if "=" in line and line[0] != "#")
    ctl = Control(env["CONTROL_URL"])
    for auth in (BASIC, NTLM):
        try:
            run_flow(env, ctl, auth)
        except Exception as e:  # noqa: BLE001 - a crash is a failed check, with its cause
            import traceback
            traceback.print_exc()
            check(f"[{auth}] flow ran to the end", False, f"{type(e).__name__}: {e}")
    try:
        run_errors(env, ctl)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check("[errors] ran to the end", False, f"{type(e).__name__}: {e}")
    counters = ctl.call("GET", "counters")
    check("NTLM handshakes happened (connection-bound auth)", counters["ntlm_handshakes"] >= 1, str(counters))
    print(f"exchangelib check: {'FAILED: ' + ', '.join(FAILURES) if FAILURES else 'all checks passed'}")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
