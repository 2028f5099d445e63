"""Item and folder properties: how each FieldURI is rendered, compared in restrictions and
sorted, which shape includes it, and from which version it exists (element order follows
the types schema, so strict clients find what they expect where they expect it)."""
import base64
from datetime import datetime, timezone

from .versions import at_least
from .xmlout import boolean, el, esc, raw


class Unsupported(Exception):
    """A FieldURI valid in EWS that the fake refuses in this place (ErrorInvalidPropertyRequest)."""


def ews_time(d):
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if d else None


def parse_ews_time(text):
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    d = datetime.fromisoformat(t)
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def mailbox_xml(ctx, pair):
    if pair is None:
        return ""
    name, addr = pair
    inner = el("t:Name", name or addr) + el("t:EmailAddress", addr) + el("t:RoutingType", "SMTP")
    if at_least(ctx.version, "Exchange2010"):
        inner += el("t:MailboxType", "Mailbox" if ctx.store.mailbox_for(addr) else "OneOff")
    return raw("t:Mailbox", inner)


def conversation_id_text(conv_bytes):
    return base64.b64encode(b"AAQk" + conv_bytes).decode()


def _single_mailbox(tag, getter):
    def render(item, ctx):
        pair = getter(item)
        return raw(f"t:{tag}", mailbox_xml(ctx, pair)) if pair else ""
    return render


def _mailboxes(tag, getter):
    def render(item, ctx):
        pairs = getter(item)
        return raw(f"t:{tag}", "".join(mailbox_xml(ctx, p) for p in pairs)) if pairs else ""
    return render


def _text(tag, getter):
    def render(item, ctx):
        v = getter(item)
        return el(f"t:{tag}", v) if v is not None else ""
    return render


def _body(item, ctx):
    s = item.summary
    want = ctx.body_type
    html = want == "HTML" or (want == "Best" and s.body_html is not None)
    body_type = "HTML" if html else "Text"
    if html:
        text = s.body_html if s.body_html is not None else "<html><body><pre>" + esc(s.body_text) + "</pre></body></html>"
    else:
        text = s.body_text
    a = {"BodyType": body_type}
    if at_least(ctx.version, "Exchange2013"):
        a["IsTruncated"] = "false"
    return el("t:Body", text, a)


def _flag(item, ctx):
    f = item.flag
    inner = el("t:FlagStatus", f["status"])
    for key, tag in (("start", "StartDate"), ("due", "DueDate"), ("complete", "CompleteDate")):
        if f.get(key):
            inner += el(f"t:{tag}", ews_time(f[key]))
    return raw("t:Flag", inner)


def _mime(item, ctx):
    return el("t:MimeContent", base64.b64encode(item.mime).decode(), {"CharacterSet": "UTF-8"})


def _display(pairs):
    return "; ".join(n or a for n, a in pairs)


# uri: (element order, since version, render, restriction value getter or None, default shapes)
# default shapes: "F" = FindItem Default, "G" = GetItem Default; "A" = AllProperties;
# "-" = not returned by FindItem at all (Exchange refuses these there).
ITEM_FIELDS = {
    "item:MimeContent": (0, "Exchange2007", _mime, None, "-"),
    "item:ItemId": (1, "Exchange2007", lambda i, c: el("t:ItemId", None, {"Id": i.id, "ChangeKey": i.change_key}),
                    None, "FGA"),
    "item:ParentFolderId": (2, "Exchange2007", lambda i, c: el("t:ParentFolderId", None, {
        "Id": i.folder.id, "ChangeKey": i.folder.change_key}), None, "FA"),
    "item:ItemClass": (3, "Exchange2007", lambda i, c: el("t:ItemClass", "IPM.Note"), lambda i: "IPM.Note", "FGA"),
    "item:Subject": (4, "Exchange2007", _text("Subject", lambda i: i.summary.subject), lambda i: i.summary.subject,
                     "FGA"),
    "item:Sensitivity": (5, "Exchange2007", lambda i, c: el("t:Sensitivity", "Normal"), lambda i: "Normal", "FGA"),
    "item:Body": (6, "Exchange2007", _body, lambda i: i.summary.body_text, "GA-"),
    "item:DateTimeReceived": (8, "Exchange2007", _text("DateTimeReceived", lambda i: ews_time(i.received)),
                              lambda i: i.received, "FGA"),
    "item:Size": (9, "Exchange2007", _text("Size", lambda i: len(i.mime)), lambda i: len(i.mime), "FGA"),
    "item:Categories": (10, "Exchange2007", lambda i, c: raw("t:Categories", "".join(
        el("t:String", x) for x in i.categories)) if i.categories else "", None, "A"),
    "item:Importance": (11, "Exchange2007", _text("Importance", lambda i: i.summary.importance),
                        lambda i: i.summary.importance, "FGA"),
    "item:InReplyTo": (12, "Exchange2007", _text("InReplyTo", lambda i: i.summary.in_reply_to), None, "A"),
    "item:IsSubmitted": (13, "Exchange2007", lambda i, c: el("t:IsSubmitted", "false"), None, "FGA"),
    "item:IsDraft": (14, "Exchange2007", _text("IsDraft", lambda i: boolean(i.is_draft)), lambda i: i.is_draft, "FGA"),
    "item:IsFromMe": (15, "Exchange2007", _text("IsFromMe", lambda i: boolean(i.is_from_me)), None, "FGA"),
    "item:IsResend": (16, "Exchange2007", lambda i, c: el("t:IsResend", "false"), None, "FGA"),
    "item:IsUnmodified": (17, "Exchange2007", _text("IsUnmodified", lambda i: boolean(i.modified == i.created)),
                          None, "FGA"),
    "item:DateTimeSent": (19, "Exchange2007", _text("DateTimeSent", lambda i: ews_time(i.summary.date_sent)),
                          lambda i: i.summary.date_sent, "FGA"),
    "item:DateTimeCreated": (20, "Exchange2007", _text("DateTimeCreated", lambda i: ews_time(i.created)),
                             lambda i: i.created, "FGA"),
    "item:DisplayCc": (25, "Exchange2007", _text("DisplayCc", lambda i: _display(i.summary.cc)),
                       lambda i: _display(i.summary.cc), "FGA"),
    "item:DisplayTo": (26, "Exchange2007", _text("DisplayTo", lambda i: _display(i.summary.to)),
                       lambda i: _display(i.summary.to), "FGA"),
    "item:HasAttachments": (27, "Exchange2007", _text("HasAttachments", lambda i: boolean(i.summary.has_attachments)),
                            lambda i: i.summary.has_attachments, "FGA"),
    "item:Culture": (29, "Exchange2007", lambda i, c: el("t:Culture", "en-US"), None, "FGA"),
    "item:LastModifiedTime": (32, "Exchange2007_SP1", _text("LastModifiedTime", lambda i: ews_time(i.modified)),
                              lambda i: i.modified, "FGA"),
    "item:ConversationId": (36, "Exchange2010", lambda i, c: el("t:ConversationId", None, {
        "Id": conversation_id_text(i.conversation_id)}), lambda i: conversation_id_text(i.conversation_id), "FGA"),
    "item:Flag": (40, "Exchange2013", _flag, lambda i: i.flag["status"], "A"),
    "message:Sender": (100, "Exchange2007", _single_mailbox("Sender", lambda i: i.summary.sender),
                       lambda i: i.summary.sender, "FGA"),
    "message:ToRecipients": (101, "Exchange2007", _mailboxes("ToRecipients", lambda i: i.summary.to), None, "GA-"),
    "message:CcRecipients": (102, "Exchange2007", _mailboxes("CcRecipients", lambda i: i.summary.cc), None, "GA-"),
    "message:BccRecipients": (103, "Exchange2007", _mailboxes("BccRecipients", lambda i: i.summary.bcc), None, "A-"),
    "message:IsReadReceiptRequested": (104, "Exchange2007", lambda i, c: el("t:IsReadReceiptRequested", "false"),
                                       None, "FGA"),
    "message:IsDeliveryReceiptRequested": (105, "Exchange2007",
                                           lambda i, c: el("t:IsDeliveryReceiptRequested", "false"), None, "GA"),
    "message:ConversationTopic": (107, "Exchange2007", _text("ConversationTopic", lambda i: i.summary.subject),
                                  lambda i: i.summary.subject, "FGA"),
    "message:From": (108, "Exchange2007", _single_mailbox("From", lambda i: i.summary.from_),
                     lambda i: i.summary.from_, "FGA"),
    "message:InternetMessageId": (109, "Exchange2007", _text("InternetMessageId", lambda i: i.summary.message_id),
                                  lambda i: i.summary.message_id, "FGA"),
    "message:IsRead": (110, "Exchange2007", _text("IsRead", lambda i: boolean(i.is_read)), lambda i: i.is_read, "FGA"),
    "message:References": (112, "Exchange2007", _text("References", lambda i: i.summary.references), None, "A"),
    "message:ReplyTo": (113, "Exchange2007", _mailboxes("ReplyTo", lambda i: i.summary.reply_to), None, "A-"),
}

# The item:, message: and folder: members of the schema's UnindexedFieldURIType (2013 SP1 and
# Exchange Online additions): a URI outside them fails schema validation, a listed one the fake
# does not model is simply not returned. Other prefixes (calendar:, contacts:, ...) are taken
# as valid and never returned: the fake stores only messages.
SCHEMA_URIS = set("""
item:ItemId item:ParentFolderId item:ItemClass item:Subject item:Sensitivity item:Body item:Attachments
item:DateTimeReceived item:Size item:Categories item:HasAttachments item:Importance item:InReplyTo
item:InternetMessageHeaders item:IsAssociated item:IsDraft item:IsFromMe item:IsResend item:IsSubmitted
item:IsUnmodified item:DateTimeSent item:DateTimeCreated item:ResponseObjects item:ReminderDueBy item:ReminderIsSet
item:ReminderNextTime item:ReminderMinutesBeforeStart item:DisplayTo item:DisplayCc item:Culture item:EffectiveRights
item:LastModifiedName item:LastModifiedTime item:ConversationId item:UniqueBody item:Flag item:StoreEntryId
item:InstanceKey item:NormalizedBody item:EntityExtractionResult item:ArchiveTag item:RetentionDate item:Preview
item:NextPredictedAction item:GroupingAction item:PredictedActionReasons item:IsClutter
item:RightsManagementLicenseData item:BlockStatus item:HasBlockedImages item:WebClientReadFormQueryString
item:WebClientEditFormQueryString item:TextBody item:IconIndex item:MimeContent item:MimeContentUTF8 item:PolicyTag
item:Hashtags item:MentionedMe item:Mentions item:HasQuotedText item:QuotedTextList item:InferenceClassification
item:UserSchemaProperties item:IsExternalSender item:Importance
message:ConversationIndex message:ConversationTopic message:InternetMessageId message:IsRead message:IsResponseRequested
message:IsReadReceiptRequested message:IsDeliveryReceiptRequested message:ReceivedBy message:ReceivedRepresenting
message:References message:ReplyTo message:From message:Sender message:ToRecipients message:CcRecipients
message:BccRecipients message:ApprovalRequestData message:VotingInformation message:ReminderMessageData
message:MessageSafety message:RecipientCount message:LikeCount message:Likers message:IsGroupEscalationMessage
message:IsReadReceiptPending
folder:FolderId folder:ParentFolderId folder:DisplayName folder:UnreadCount folder:TotalCount folder:ChildFolderCount
folder:FolderClass folder:SearchParameters folder:ManagedFolderInformation folder:PermissionSet folder:EffectiveRights
folder:SharingEffectiveRights folder:DistinguishedFolderId folder:PolicyTag folder:ArchiveTag folder:ReplicaList
""".split())
KNOWN_PREFIXES = ("item:", "message:", "folder:", "calendar:", "contacts:", "task:", "meeting:", "meetingRequest:",
                  "conversation:", "persona:", "distributionlist:", "postitem:", "sharing:", "meetingresponse:")



def uri_in_schema(uri):
    if not uri or ":" not in uri:
        return False
    if uri.startswith(("item:", "message:", "folder:")):
        return uri in SCHEMA_URIS
    return uri.startswith(KNOWN_PREFIXES)


FOLDER_TYPES = {"IPF.Appointment": "t:CalendarFolder", "IPF.Contact": "t:ContactsFolder", "IPF.Task": "t:TasksFolder"}


def folder_element(folder):
    return FOLDER_TYPES.get(folder.folder_class or "", "t:Folder")


def _effective_rights(f, ctx):
    inner = "".join(el(f"t:{k}", "true") for k in ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete",
                                                     "Modify", "Read"))
    return raw("t:EffectiveRights", inner)


FOLDER_FIELDS = {
    "folder:FolderId": (1, lambda f, c: el("t:FolderId", None, {"Id": f.id, "ChangeKey": f.change_key}), None, "DA"),
    "folder:ParentFolderId": (2, lambda f, c: el("t:ParentFolderId", None, {
        "Id": f.parent.id, "ChangeKey": f.parent.change_key}) if f.parent else "", None, "A"),
    "folder:FolderClass": (3, lambda f, c: el("t:FolderClass", f.folder_class) if f.folder_class else "",
                           lambda f: f.folder_class or "", "A"),
    "folder:DisplayName": (4, lambda f, c: el("t:DisplayName", f.name), lambda f: f.name, "DA"),
    "folder:TotalCount": (5, lambda f, c: el("t:TotalCount", len(f.items)), lambda f: len(f.items), "DA"),
    "folder:ChildFolderCount": (6, lambda f, c: el("t:ChildFolderCount", len(f.children)),
                                lambda f: len(f.children), "DA"),
    "folder:EffectiveRights": (9, _effective_rights, None, "A"),
    "folder:UnreadCount": (20, lambda f, c: el("t:UnreadCount", f.unread()) if f.is_mail() else "",
                           lambda f: f.unread(), "DA"),
}


def render_item(item, ctx, uris):
    parts = []
    for uri in sorted(uris, key=lambda u: ITEM_FIELDS[u][0]):
        parts.append(ITEM_FIELDS[uri][2](item, ctx))
    return raw("t:Message", "".join(parts))


def render_folder(folder, ctx, uris):
    parts = [FOLDER_FIELDS[u][1](folder, ctx) for u in sorted(uris, key=lambda u: FOLDER_FIELDS[u][0])]
    return raw(folder_element(folder), "".join(parts))
