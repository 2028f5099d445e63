"""The fake EWS server over HTTPS with raw SOAP: what it refuses (like Exchange), what it
produces (paging, back-off, watermarks, streaming, character references), its auth schemes and
its control API. Starts its own fake through ews.sh in a temporary directory."""
import base64
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import lxml.etree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from ewsfake.store import KIND_FOLDER, KIND_ITEM, make_id  # noqa: E402

EWS_SH = os.path.join(HERE, "..", "..", "ews.sh")
NS = {"s": "http://schemas.xmlsoap.org/soap/envelope/", "m": "http://schemas.microsoft.com/exchange/services/2006/messages",
      "t": "http://schemas.microsoft.com/exchange/services/2006/types",
      "e": "http://schemas.microsoft.com/exchange/services/2006/errors"}
ENV = {}


def setUpModule():
    state = tempfile.mkdtemp(prefix="mb-ews-strict-")
    ENV["_state"] = state
    env = dict(os.environ, MB_EWS_AUTH="basic,ntlm,bearer", MB_EWS_MINUTE_SECONDS="3", MB_EWS_KEEPALIVE_SECONDS="1",
               MB_EWS_EXIT_WITH_PID=str(os.getpid()))
    out = subprocess.run([EWS_SH, "start", state], env=env, check=True, capture_output=True, text=True).stdout
    with open(out.strip().splitlines()[-1]) as f:
        ENV.update(line.rstrip("\n").split("=", 1) for line in f if "=" in line and not line.startswith("#"))


def tearDownModule():
    subprocess.run([EWS_SH, "stop", ENV["_state"]], capture_output=True)
    shutil.rmtree(ENV["_state"], ignore_errors=True)


def control(method, path, body=None, **query):
    q = urllib.parse.urlencode(query)
    req = urllib.request.Request(f"{ENV['CONTROL_URL']}/{path}{'?' + q if q else ''}", data=body, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def deliver(subject, user="alice", folder="INBOX", extra_headers=b"", sender="bob"):
    raw = (f"From: {sender.title()} <{sender}@testlab.test>\r\nTo: {user}@testlab.test\r\n").encode() + \
        b"Subject: " + (subject if isinstance(subject, bytes) else subject.encode()) + b"\r\n" + extra_headers + \
        f"Message-ID: <{time.time_ns()}@t>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\nHello.\r\n".encode()
    return control("POST", "deliver", raw, user=user, folder=folder), raw


def connection():
    ctx = ssl.create_default_context(cafile=ENV["CA_FILE"])
    return http.client.HTTPSConnection("127.0.0.1", int(ENV["EWS_PORT"]), context=ctx, timeout=30)


def basic(user="alice"):
    return "Basic " + base64.b64encode(f"{user}:{ENV[user.upper() + '_PASSWORD']}".encode()).decode()


def envelope(body, version="Exchange2013_SP1", header="", soap_ns=NS["s"]):
    rsv = f'<t:RequestServerVersion Version="{version}"/>' if version else ""
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{soap_ns}" xmlns:m="{NS["m"]}" '
            f'xmlns:t="{NS["t"]}"><s:Header>{rsv}{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>')


class Reply:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.data = status, headers, data
        self.text = data.decode("utf-8", "replace")
        try:
            self.xml = lxml.etree.fromstring(data, lxml.etree.XMLParser(recover=True)) if data else None
        except lxml.etree.XMLSyntaxError:
            self.xml = None

    def all(self, path):
        return self.xml.findall(path, NS) if self.xml is not None else []

    def one(self, path):
        found = self.all(path)
        assert len(found) == 1, f"{path}: {len(found)} in {self.text[:2000]}"
        return found[0]

    def codes(self):
        return [e.text for e in self.all(".//m:ResponseCode")]

    def fault(self):
        code = self.xml.find(".//e:ResponseCode", NS) if self.xml is not None else None
        return code.text if code is not None and self.xml.find(".//s:Fault", NS) is not None else None


def post(body, auth=None, conn=None, path="/EWS/Exchange.asmx", headers=None):
    c = conn or connection()
    h = {"Content-Type": "text/xml; charset=utf-8"}
    if auth is not False:
        h["Authorization"] = auth or basic()
    h.update(headers or {})
    c.request("POST", path, body=body.encode() if isinstance(body, str) else body, headers=h)
    r = c.getresponse()
    try:
        return Reply(r.status, r.headers, r.read())
    finally:
        if conn is None:
            c.close()


def soap(body, **kw):
    header = kw.pop("header", "")
    version = kw.pop("version", "Exchange2013_SP1")
    return post(envelope(body, version, header), **kw)


FIND_INBOX = ('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>{shape}</t:BaseShape>{extra}</m:ItemShape>'
              '{view}{rest}<m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>')


def find(shape="Default", extra="", view="", rest="", folder="inbox", **kw):
    return soap(FIND_INBOX.format(shape=shape, extra=extra, view=view, rest=rest, folder=folder), **kw)


def get_item(item_id, extra="", shape="IdOnly", mime=False, **kw):
    inc = "<t:IncludeMimeContent>true</t:IncludeMimeContent>" if mime else ""
    return soap(f"<m:GetItem><m:ItemShape><t:BaseShape>{shape}</t:BaseShape>{inc}{extra}</m:ItemShape>"
                f'<m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem>', **kw)


class StrictSoapTest(unittest.TestCase):
    def setUp(self):
        control("POST", "reset")

    def test_wrong_soap_namespace_is_schema_fault(self):
        r = post(envelope('<m:GetFolder/>', soap_ns="http://www.w3.org/2003/05/soap-envelope"))
        self.assertEqual((r.status, r.fault()), (500, "ErrorSchemaValidation"))

    def test_operation_in_types_namespace_is_schema_fault(self):
        r = soap('<t:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape></t:GetFolder>')
        self.assertEqual(r.fault(), "ErrorSchemaValidation")

    def test_child_in_wrong_namespace_is_schema_fault(self):
        r = soap('<m:GetFolder><m:FolderShape><m:BaseShape>Default</m:BaseShape></m:FolderShape><m:FolderIds>'
                 '<t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')
        self.assertEqual(r.fault(), "ErrorSchemaValidation")
        self.assertIn("BaseShape", r.text)

    def test_missing_request_server_version_is_refused(self):
        r = soap('<m:GetFolder/>', version=None)
        self.assertEqual(r.fault(), "ErrorSchemaValidation")
        self.assertIn("RequestServerVersion", r.text)

    def test_unknown_and_too_new_versions(self):
        self.assertEqual(soap('<m:GetFolder/>', version="Exchange2099").fault(), "ErrorInvalidServerVersion")
        self.assertEqual(soap('<m:GetFolder/>', version="V2017_07_11").fault(), "ErrorInvalidServerVersion")

    def test_streaming_needs_exchange2010_sp1(self):
        sub = ('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
               '</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>'
               '</m:StreamingSubscriptionRequest></m:Subscribe>')
        r = soap(sub, version="Exchange2010")
        self.assertEqual(r.fault(), "ErrorSchemaValidation")
        self.assertIn("Exchange2010_SP1", r.text)
        gse = ('<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>x</t:SubscriptionId></m:SubscriptionIds>'
               '<m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>')
        self.assertEqual(soap(gse, version="Exchange2010").fault(), "ErrorSchemaValidation")
        self.assertEqual(soap(sub, version="Exchange2010_SP1").codes(), ["NoError"])

    def test_flag_needs_exchange2013(self):
        d, _ = deliver("flag me")
        extra = '<t:AdditionalProperties><t:FieldURI FieldURI="item:Flag"/></t:AdditionalProperties>'
        self.assertEqual(get_item(d["item_id"], extra, version="Exchange2010_SP2").fault(), "ErrorSchemaValidation")
        r = get_item(d["item_id"], extra, version="Exchange2013")
        self.assertEqual(r.one(".//t:Flag/t:FlagStatus").text, "NotFlagged")

    def test_unknown_invalid_and_malformed_ids(self):
        unknown_folder = make_id(KIND_FOLDER, 1, 10 ** 9)
        r = soap('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>'
                 f'<t:FolderId Id="{unknown_folder}"/><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>')
        self.assertEqual(r.codes(), ["ErrorFolderNotFound", "NoError"])
        self.assertEqual(get_item(make_id(KIND_ITEM, 1, 10 ** 9)).codes(), ["ErrorItemNotFound"])
        self.assertEqual(get_item("bm90LWFuLWlk").codes(), ["ErrorInvalidIdMalformed"])
        self.assertEqual(get_item("%%%").codes(), ["ErrorInvalidIdMalformed"])
        r = soap('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>'
                 '<t:DistinguishedFolderId Id="nosuchfolder"/></m:FolderIds></m:GetFolder>')
        self.assertEqual(r.fault(), "ErrorSchemaValidation")

    def update(self, item_id, change_key, conflict="NeverOverwrite", disposition=' MessageDisposition="SaveOnly"'):
        return soap(f'<m:UpdateItem ConflictResolution="{conflict}"{disposition}><m:ItemChanges><t:ItemChange>'
                    f'<t:ItemId Id="{item_id}" ChangeKey="{change_key}"/><t:Updates><t:SetItemField>'
                    '<t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message>'
                    '</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>')

    def test_change_keys_and_conflicts(self):
        d, _ = deliver("conflict")
        first = self.update(d["item_id"], d["change_key"])
        self.assertEqual(first.codes(), ["NoError"])
        new_ck = first.one(".//t:ItemId").get("ChangeKey")
        self.assertNotEqual(new_ck, d["change_key"])
        self.assertEqual(self.update(d["item_id"], d["change_key"]).codes(), ["ErrorIrresolvableConflict"])
        self.assertEqual(self.update(d["item_id"], d["change_key"], "AutoResolve").codes(), ["NoError"])
        self.assertEqual(self.update(d["item_id"], "garbage!").codes(), ["ErrorInvalidChangeKey"])
        self.assertEqual(self.update(d["item_id"], new_ck, disposition="").codes(), ["ErrorMessageDispositionRequired"])

    def test_impersonation_and_delegation(self):
        imp = ('<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>carol@testlab.test'
               '</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>')
        self.assertEqual(find(header=imp, auth=basic("svc")).codes(), ["NoError"])
        self.assertEqual(find(header=imp).fault(), "ErrorImpersonateUserDenied")
        mbx = '<t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox>'
        get = ('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>'
               '<t:DistinguishedFolderId Id="inbox">{}</t:DistinguishedFolderId></m:FolderIds></m:GetFolder>')
        self.assertEqual(soap(get.format(mbx.format("bob@testlab.test"))).codes(), ["NoError"])
        self.assertEqual(soap(get.format(mbx.format("carol@testlab.test"))).codes(), ["ErrorAccessDenied"])
        self.assertEqual(soap(get.format(mbx.format("nobody@testlab.test"))).codes(), ["ErrorNonExistentMailbox"])

    def test_invalid_xml_characters_become_references_and_mime_keeps_bytes(self):
        planted = "a\x00b\x01\x08\x0b\x0c\x0e\x1f\ufdd0\ufdef\ufffe\uffff\U0001fffe\U0010ffff-z"
        encoded = base64.b64encode(planted.encode("utf-8") + b"\xed\xa0\x80\xed\xbf\xbf").decode()
        subject = f"=?utf-8?b?{encoded}?=".encode()
        d, raw = deliver(subject)
        r = get_item(d["item_id"], '<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties>',
                     mime=True)
        for ref in ("&#x0;", "&#x1;", "&#x8;", "&#xB;", "&#xC;", "&#xE;", "&#x1F;", "&#xFDD0;", "&#xFDEF;", "&#xFFFE;",
                    "&#xFFFF;", "&#x1FFFE;", "&#x10FFFF;", "&#xD800;", "&#xDFFF;"):
            self.assertIn(ref, r.text)
        self.assertNotRegex(r.text, "[\x00-\x08\x0b\x0c\x0e-\x1f]")
        self.assertEqual(base64.b64decode(r.one(".//t:MimeContent").text), raw)

    def test_paging_and_totals(self):
        for i in range(7):
            deliver(f"Page {i}")
        sort = '<m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="item:Subject"/></t:FieldOrder></m:SortOrder>'
        r = find(view='<m:IndexedPageItemView MaxEntriesReturned="3" Offset="0" BasePoint="Beginning"/>', rest=sort)
        root = r.one(".//m:RootFolder")
        self.assertEqual((root.get("IndexedPagingOffset"), root.get("TotalItemsInView"),
                          root.get("IncludesLastItemInRange")), ("3", "7", "false"))
        self.assertEqual([e.text for e in r.all(".//t:Subject")], ["Page 0", "Page 1", "Page 2"])
        r = find(view='<m:IndexedPageItemView MaxEntriesReturned="3" Offset="6" BasePoint="Beginning"/>', rest=sort)
        root = r.one(".//m:RootFolder")
        self.assertEqual((root.get("IndexedPagingOffset"), root.get("IncludesLastItemInRange")), ("7", "true"))
        self.assertEqual(find(view='<m:IndexedPageItemView MaxEntriesReturned="0" Offset="0" BasePoint="Beginning"/>')
                         .fault(), "ErrorSchemaValidation")

    def test_additional_properties_only_what_was_asked(self):
        deliver("Only subject")
        r = find("IdOnly", '<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties>')
        msg = r.one(".//t:Message")
        self.assertEqual([lxml.etree.QName(c).localname for c in msg], ["ItemId", "Subject"])
        self.assertEqual(find("IdOnly", '<t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/>'
                              '</t:AdditionalProperties>').codes(), ["ErrorInvalidPropertyRequest"])
        self.assertEqual(find("IdOnly", '<t:AdditionalProperties><t:FieldURI FieldURI="item:Nonsense"/>'
                              '</t:AdditionalProperties>').fault(), "ErrorSchemaValidation")

    def test_restrictions(self):
        deliver("Alpha report", sender="bob")
        deliver("Beta report", sender="carol")
        deliver("Gamma", sender="carol")
        restriction = ('<m:Restriction><t:And><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase">'
                       '<t:FieldURI FieldURI="item:Subject"/><t:Constant Value="REPORT"/></t:Contains><t:Not>'
                       '<t:IsEqualTo><t:FieldURI FieldURI="message:From"/><t:FieldURIOrConstant>'
                       '<t:Constant Value="bob@testlab.test"/></t:FieldURIOrConstant></t:IsEqualTo></t:Not>'
                       '<t:IsGreaterThanOrEqualTo><t:FieldURI FieldURI="item:DateTimeReceived"/><t:FieldURIOrConstant>'
                       '<t:Constant Value="2000-01-01T00:00:00Z"/></t:FieldURIOrConstant></t:IsGreaterThanOrEqualTo>'
                       '<t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/><t:FieldURIOrConstant>'
                       '<t:Constant Value="false"/></t:FieldURIOrConstant></t:IsEqualTo></t:And></m:Restriction>')
        r = find(rest=restriction)
        self.assertEqual([e.text for e in r.all(".//t:Subject")], ["Beta report"])
        bad = restriction.replace('Value="false"', 'Value="maybe"')
        self.assertEqual(find(rest=bad).codes(), ["ErrorInvalidValueForProperty"])
        # The address behind From as a MAPI property (message:From matches the name on Exchange).
        by_address = ('<m:Restriction><t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase">'
                      '<t:ExtendedFieldURI PropertyTag="0x0065" PropertyType="String"/><t:Constant Value="CAROL@"/>'
                      '</t:Contains></m:Restriction>')
        self.assertEqual(sorted(e.text for e in find(rest=by_address).all(".//t:Subject")), ["Beta report", "Gamma"])
        self.assertEqual(find(rest=by_address.replace("0x0065", "0x0037")).codes(), ["ErrorUnsupportedPathForQuery"])

    def test_server_busy_with_back_off(self):
        control("POST", "busy", count=1, backoff_ms=1234)
        r = find()
        self.assertEqual((r.status, r.fault()), (500, "ErrorServerBusy"))
        self.assertEqual(r.one(".//t:MessageXml/t:Value[@Name='BackOffMilliseconds']").text, "1234")
        self.assertEqual(find().codes(), ["NoError"])

    def test_send_reply_and_conversation(self):
        body = ('<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:Message><t:Subject>Plan</t:Subject>'
                '<t:Body BodyType="Text">Let us plan.</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>'
                'bob@testlab.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>')
        r = soap(body)
        self.assertEqual(r.codes(), ["NoError"])
        self.assertEqual(r.all(".//m:Items/*"), [])
        self.assertEqual(soap(body.replace(' MessageDisposition="SendAndSaveCopy"', "")).codes(),
                         ["ErrorMessageDispositionRequired"])
        at_bob = find("IdOnly", '<t:AdditionalProperties><t:FieldURI FieldURI="item:ConversationId"/>'
                      '</t:AdditionalProperties>', auth=basic("bob"))
        item = at_bob.one(".//t:ItemId")
        conv = at_bob.one(".//t:ConversationId").get("Id")
        reply = ('<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:ReplyToItem><t:ReferenceItemId '
                 f'Id="{item.get("Id")}"/><t:NewBodyContent BodyType="Text">OK</t:NewBodyContent></t:ReplyToItem>'
                 '</m:Items></m:CreateItem>')
        self.assertEqual(soap(reply, auth=basic("bob")).codes(), ["NoError"])
        at_alice = find("IdOnly", '<t:AdditionalProperties><t:FieldURI FieldURI="item:ConversationId"/>'
                        '<t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties>')
        self.assertEqual(at_alice.one(".//t:Subject").text, "RE: Plan")
        self.assertEqual(at_alice.one(".//t:ConversationId").get("Id"), conv)
        sent = control("GET", "sent")
        self.assertEqual([(s["from"], s["delivered_to"]) for s in sent],
                         [("alice@testlab.test", ["bob"]), ("bob@testlab.test", ["alice"])])

    def test_copy_forward_draft_and_send_item(self):
        d, raw = deliver("Original")
        r = soap('<m:CopyItem><m:ToFolderId><t:DistinguishedFolderId Id="drafts"/></m:ToFolderId><m:ItemIds>'
                 f'<t:ItemId Id="{d["item_id"]}"/></m:ItemIds></m:CopyItem>')
        copy_id = r.one(".//t:ItemId").get("Id")
        self.assertNotEqual(copy_id, d["item_id"])
        self.assertEqual(get_item(d["item_id"]).codes(), ["NoError"])  # a copy leaves the original
        fwd = ('<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:ForwardItem><t:ToRecipients><t:Mailbox>'
               '<t:EmailAddress>carol@testlab.test</t:EmailAddress></t:Mailbox></t:ToRecipients><t:ReferenceItemId '
               f'Id="{d["item_id"]}"/><t:NewBodyContent BodyType="Text">FYI</t:NewBodyContent></t:ForwardItem>'
               '</m:Items></m:CreateItem>')
        self.assertEqual(soap(fwd).codes(), ["NoError"])
        at_carol = find("IdOnly", '<t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties>',
                        auth=basic("carol"))
        self.assertEqual([e.text for e in at_carol.all(".//t:Subject")], ["FW: Original"])
        draft = ('<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">'
                 + base64.b64encode(b"To: dave@testlab.test\r\nSubject: Draft\r\n\r\nLater.\r\n").decode()
                 + '</t:MimeContent></t:Message></m:Items></m:CreateItem>')
        r = soap(draft)
        draft_id = r.one(".//t:ItemId").get("Id")
        in_drafts = find("IdOnly", '<t:AdditionalProperties><t:FieldURI FieldURI="item:IsDraft"/></t:AdditionalProperties>',
                         folder="drafts")
        self.assertEqual(len(in_drafts.all(".//t:Message")), 2)
        r = soap(f'<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{draft_id}"/></m:ItemIds></m:SendItem>')
        self.assertEqual(r.codes(), ["NoError"])
        self.assertEqual(len(find(folder="drafts").all(".//t:Message")), 1)
        self.assertEqual(len(find(auth=basic("dave")).all(".//t:Message")), 1)
        self.assertEqual(len(find(folder="sentitems").all(".//t:Message")), 1)


class NotificationsTest(unittest.TestCase):
    def setUp(self):
        control("POST", "reset")

    def subscribe_pull(self, watermark=""):
        wm = f"<t:Watermark>{watermark}</t:Watermark>" if watermark else ""
        r = soap('<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
                 '</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>'
                 f'{wm}<t:Timeout>5</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>')
        return r.one(".//m:SubscriptionId").text, r.one(".//m:Watermark").text

    def get_events(self, sid, wm):
        return soap(f"<m:GetEvents><m:SubscriptionId>{sid}</m:SubscriptionId><m:Watermark>{wm}</m:Watermark>"
                    "</m:GetEvents>")

    def test_watermarks_resume_without_loss(self):
        sid, wm0 = self.subscribe_pull()
        first, _ = deliver("one")
        second, _ = deliver("two")
        r = self.get_events(sid, wm0)
        events = r.all(".//t:NewMailEvent")
        self.assertEqual([e.find("t:ItemId", NS).get("Id") for e in events], [first["item_id"], second["item_id"]])
        self.assertEqual(r.one(".//t:MoreEvents").text, "false")
        wm1 = events[0].find("t:Watermark", NS).text
        again = self.get_events(sid, wm1).all(".//t:NewMailEvent")  # resume after the first: the second again
        self.assertEqual([e.find("t:ItemId", NS).get("Id") for e in again], [second["item_id"]])
        sid2, _ = self.subscribe_pull(wm1)  # a new subscription from an old watermark
        self.assertEqual(len(self.get_events(sid2, wm1).all(".//t:NewMailEvent")), 1)
        quiet = self.get_events(sid, events[-1].find("t:Watermark", NS).text)
        self.assertEqual(len(quiet.all(".//t:StatusEvent")), 1)
        self.assertEqual(self.get_events(sid, "bm9wZQ==").codes(), ["ErrorInvalidWatermark"])
        self.assertEqual(self.get_events("nope", wm0).codes(), ["ErrorSubscriptionNotFound"])

    def test_streaming_notifications_then_closed(self):
        r = soap('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
                 '</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>'
                 '</m:StreamingSubscriptionRequest></m:Subscribe>')
        sid = r.one(".//m:SubscriptionId").text
        c = connection()
        c.request("POST", "/EWS/Exchange.asmx", body=envelope(
            f"<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sid}</t:SubscriptionId></m:SubscriptionIds>"
            "<m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>").encode(),
            headers={"Authorization": basic(), "Content-Type": "text/xml"})
        resp = c.getresponse()
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        t0 = time.monotonic()
        delivered = None
        data = b""
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            data += chunk
            if delivered is None and b"ConnectionStatus>OK" in data:
                delivered, _ = deliver("streamed")
        elapsed = time.monotonic() - t0
        docs = re.findall(rb"<Envelope .*?</Envelope>", data, re.S)
        statuses = [re.search(rb"ConnectionStatus>(\w+)<", d).group(1) for d in docs if b"ConnectionStatus" in d]
        self.assertEqual(statuses[0], b"OK")
        self.assertEqual(statuses[-1], b"Closed")
        self.assertTrue(any(delivered["item_id"].encode() in d and b"NewMailEvent" in d for d in docs))
        self.assertTrue(2.5 <= elapsed <= 10, elapsed)  # ConnectionTimeout 1 "minute" = 3 s here


class AuthAndControlTest(unittest.TestCase):
    def test_basic_forms_and_wrong_password(self):
        for user in ("alice", "TESTLAB\\alice", "alice@testlab.test"):
            cred = base64.b64encode(f"{user}:{ENV['ALICE_PASSWORD']}".encode()).decode()
            self.assertEqual(find(auth="Basic " + cred).status, 200, user)
        r = find(auth="Basic " + base64.b64encode(b"alice:wrong").decode())
        self.assertEqual(r.status, 401)
        offers = r.headers.get_all("WWW-Authenticate")
        self.assertIn("NTLM", offers)
        self.assertTrue(any(o.startswith("Basic realm=") for o in offers))
        self.assertEqual(find(auth=False).status, 401)

    def test_ntlm_is_connection_bound(self):
        from ntlm_auth.ntlm import NtlmContext
        before = control("GET", "counters")["ntlm_handshakes"]
        client = NtlmContext("alice", ENV["ALICE_PASSWORD"], domain="TESTLAB", ntlm_compatibility=3)
        c = connection()
        r = find(auth="NTLM " + base64.b64encode(client.step()).decode(), conn=c)
        self.assertEqual(r.status, 401)
        challenge = base64.b64decode(r.headers["WWW-Authenticate"].split(" ", 1)[1])
        r = find(auth="NTLM " + base64.b64encode(client.step(challenge)).decode(), conn=c)
        self.assertEqual(r.status, 200)
        self.assertEqual(find(auth=False, conn=c).status, 200)  # same connection: no header needed
        self.assertEqual(find(auth=False).status, 401)  # another connection: not authenticated
        self.assertEqual(control("GET", "counters")["ntlm_handshakes"], before + 1)

    def test_ntlm_wrong_password_refused(self):
        from ntlm_auth.ntlm import NtlmContext
        client = NtlmContext("alice", "wrong", domain="TESTLAB", ntlm_compatibility=3)
        c = connection()
        r = find(auth="NTLM " + base64.b64encode(client.step()).decode(), conn=c)
        challenge = base64.b64decode(r.headers["WWW-Authenticate"].split(" ", 1)[1])
        self.assertEqual(find(auth="NTLM " + base64.b64encode(client.step(challenge)).decode(), conn=c).status, 401)

    def test_bearer_tokens(self):
        token = control("POST", "token", user="carol")["access_token"]
        r = find(auth="Bearer " + token)
        self.assertEqual(r.status, 200)
        self.assertEqual(find(auth="Bearer not-a-token").status, 401)

    def test_affinity_cookie_and_anchor_mailbox_recorded(self):
        c = connection()
        r = find(conn=c, headers={"X-AnchorMailbox": "alice@testlab.test"})
        cookie = r.headers["Set-Cookie"].split(";")[0]
        self.assertTrue(cookie.startswith("X-BackEndCookie="))
        find(conn=c, headers={"Cookie": cookie})
        recs = [x for x in control("GET", "requests") if x.get("operation") == "FindItem"][-2:]
        self.assertEqual([x["anchor_mailbox"] for x in recs], ["alice@testlab.test", None])
        self.assertEqual([x["backend_cookie_sent"] for x in recs], [False, True])
        self.assertTrue(recs[1]["backend_cookie_matches"])
        self.assertEqual(recs[0]["conn"], recs[1]["conn"])
        self.assertNotIn(ENV["ALICE_PASSWORD"], json.dumps(control("GET", "requests")))

    def test_control_api_is_not_on_the_ews_port(self):
        c = connection()
        c.request("GET", "/_control/counters", headers={"Authorization": basic()})
        self.assertEqual(c.getresponse().status, 404)

    def test_drop_and_stall_injection(self):
        control("POST", "inject", action="drop")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            find()
        control("POST", "inject", action="stall", seconds=1)
        t0 = time.monotonic()
        self.assertEqual(find().status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)


class AutodiscoverTest(unittest.TestCase):
    REQ = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
           'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{}</EMailAddress>'
           '<AcceptableResponseSchema>{}</AcceptableResponseSchema></Request></Autodiscover>')
    A = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

    def ask(self, address="alice@testlab.test", schema=A):
        return post(self.REQ.format(address, schema), path="/autodiscover/autodiscover.xml")

    def tearDown(self):
        control("POST", "autodiscover", mode="normal")

    def test_settings_redirects_and_errors(self):
        r = self.ask()
        text = r.text
        self.assertIn("<Type>EXCH</Type>", text)
        self.assertIn("<Type>EXPR</Type>", text)
        self.assertIn(f"<EwsUrl>{ENV['EWS_URL']}</EwsUrl>", text)
        self.assertIn("<ErrorCode>601</ErrorCode>", self.ask(schema="urn:wrong").text)
        self.assertIn("<ErrorCode>500</ErrorCode>", self.ask("nobody@testlab.test").text)
        control("POST", "autodiscover", mode="redirect_addr", to="bob@testlab.test")
        self.assertIn("<RedirectAddr>bob@testlab.test</RedirectAddr>", self.ask().text)
        control("POST", "autodiscover", mode="loop")
        self.assertIn(f"<RedirectUrl>{ENV['AUTODISCOVER_URL']}</RedirectUrl>", self.ask().text)
        self.assertEqual(post(self.REQ.format("alice@testlab.test", self.A), path="/autodiscover/autodiscover.xml",
                              auth=False).status, 401)


if __name__ == "__main__":
    unittest.main()
