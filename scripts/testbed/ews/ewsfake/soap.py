"""SOAP envelope in, SOAP envelope out: namespace and version checks, the request context,
folder/item id resolution with access checks, response-message helpers, and the operation
table the ops_* modules fill. Errors are exceptions here and become faults or ResponseMessages.
"""
import defusedxml.ElementTree as SafeET

from .store import StoreError
from .versions import BUILDS, RANK, VERSIONS, at_least
from .xmlout import NS_M, NS_SOAP, NS_T, envelope, esc, fault, raw  # noqa: F401 (raw: re-exported)

M = "{%s}" % NS_M
T = "{%s}" % NS_T
S = "{%s}" % NS_SOAP

# Largest SOAP request body accepted (CreateItem with MimeContent of a 35 MB message, base64).
MAX_REQUEST_BYTES = 50 * 1024 * 1024
# Ids per request (Exchange's EWSMaxBatchSize default is 1000 per operation... the fake uses it).
MAX_IDS_PER_REQUEST = 1000

OPERATIONS = {}  # name -> (function, first version that has it)


def operation(name, since="Exchange2007"):
    def register(fn):
        OPERATIONS[name] = (fn, since)
        return fn
    return register


class Fault(Exception):
    """A SOAP fault (HTTP 500), as Exchange sends for request-level errors."""

    def __init__(self, code, message, extra_detail=""):
        super().__init__(message)
        self.code, self.message, self.extra_detail = code, message, extra_detail

    def xml(self):
        return fault(self.code, self.message, extra_detail=self.extra_detail)


class EwsError(Exception):
    """An error for one response message (ResponseClass="Error")."""

    def __init__(self, code, message, message_xml=""):
        super().__init__(message)
        self.code, self.message, self.message_xml = code, message, message_xml


def schema_error(what):
    return Fault("ErrorSchemaValidation", f"The request failed schema validation: {what}")


def from_store(e: StoreError):
    return EwsError(e.code, e.message)


DISTINGUISHED_IDS = {
    "calendar", "contacts", "deleteditems", "drafts", "inbox", "journal", "notes", "outbox", "sentitems", "tasks",
    "msgfolderroot", "publicfoldersroot", "root", "junkemail", "searchfolders", "voicemail", "recoverableitemsroot",
    "recoverableitemsdeletions", "recoverableitemsversions", "recoverableitemspurges", "archiveroot",
    "archivemsgfolderroot", "archivedeleteditems", "archiveinbox", "archiverecoverableitemsroot",
    "archiverecoverableitemsdeletions", "archiverecoverableitemsversions", "archiverecoverableitemspurges",
    "syncissues", "conflicts", "localfailures", "serverfailures", "recipientcache", "quickcontacts",
    "conversationhistory", "adminauditlogs", "todosearch", "mycontacts", "directory", "imcontactlist",
    "peopleconnect", "favorites",
}


class Context:
    """One request: who is asking, for which mailbox, in which schema version."""

    def __init__(self, server, login, auth_scheme, conn_id):
        self.server, self.store, self.config = server, server.store, server.config
        self.login, self.auth_scheme, self.conn_id = login, auth_scheme, conn_id
        self.version = None
        self.mailbox = None
        self.impersonated = None
        self.body_type = "Best"
        self.operation = None

    def need(self, minimum, what):
        if not at_least(self.version, minimum):
            raise schema_error(f"{what} is not valid for RequestServerVersion {self.version} "
                               f"(introduced in {minimum}).")

    # -- access ----------------------------------------------------------------------------
    def may_access(self, mailbox):
        if mailbox is self.mailbox:
            return True
        grants = self.config.get("delegates", {}).get(mailbox.user.lower(), [])
        return self.mailbox.user.lower() in [g.lower() for g in grants]

    def check_access(self, mailbox):
        if not self.may_access(mailbox):
            raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again. "
                           f"({self.mailbox.address} has no delegate access to {mailbox.address})")

    def folder(self, elem):
        """A t:FolderId or t:DistinguishedFolderId element -> Folder (access-checked)."""
        if elem.tag == T + "FolderId":
            fid = elem.get("Id")
            if not fid:
                raise schema_error("FolderId without the required Id attribute.")
            try:
                f = self.store.find_folder(fid)
            except StoreError as e:
                raise from_store(e) from None
            self.check_access(f.mailbox)
            return f
        if elem.tag == T + "DistinguishedFolderId":
            did = elem.get("Id")
            if did not in DISTINGUISHED_IDS:
                raise schema_error(f"The 'Id' attribute is invalid - the value '{did}' is not a "
                                   "DistinguishedFolderIdNameType.")
            mailbox = self.mailbox
            mbx_elem = elem.find(T + "Mailbox")
            if mbx_elem is not None:
                addr = (mbx_elem.findtext(T + "EmailAddress") or "").strip()
                if not addr:
                    raise schema_error("Mailbox in DistinguishedFolderId without EmailAddress.")
                mailbox = self.store.mailbox_for(addr)
                if mailbox is None:
                    raise EwsError("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
                self.check_access(mailbox)
            f = mailbox.distinguished.get(did)
            if f is None:
                raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
            return f
        raise schema_error(f"expected t:FolderId or t:DistinguishedFolderId, got {local(elem.tag)}.")

    def item(self, elem):
        if elem.tag not in (T + "ItemId", T + "ReferenceItemId"):
            raise schema_error(f"expected t:ItemId, got {local(elem.tag)}.")
        iid = elem.get("Id")
        if not iid:
            raise schema_error("ItemId without the required Id attribute.")
        try:
            item = self.store.find_item(iid)
        except StoreError as e:
            raise from_store(e) from None
        self.check_access(item.mailbox)
        return item


def local(tag):
    return tag.split("}", 1)[-1]


def namespace(tag):
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def child(elem, qname, required=True):
    c = elem.find(qname)
    if c is None and required:
        raise schema_error(f"the element '{local(elem.tag)}' is missing its required child "
                           f"'{local(qname)}' in namespace '{namespace(qname)}'.")
    return c


def check_namespaces(elem):
    for e in elem.iter():
        if namespace(e.tag) not in (NS_M, NS_T):
            raise schema_error(f"the element '{local(e.tag)}' in namespace '{namespace(e.tag)}' is not expected "
                               f"(EWS elements live in {NS_M} or {NS_T}).")


def response(op, messages):
    return (f'<m:{op}Response xmlns:m="{NS_M}" xmlns:t="{NS_T}"><m:ResponseMessages>'
            f"{''.join(messages)}</m:ResponseMessages></m:{op}Response>")


def ok(op, inner="", tag=None):
    tag = tag or f"{op}ResponseMessage"
    return f'<m:{tag} ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>{inner}</m:{tag}>'


def error(op, e: EwsError, empty="", tag=None):
    tag = tag or f"{op}ResponseMessage"
    return (f'<m:{tag} ResponseClass="Error"><m:MessageText>{esc(e.message)}</m:MessageText>'
            f"<m:ResponseCode>{esc(e.code)}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            f"{e.message_xml}{empty}</m:{tag}>")


def server_version_header(config):
    name = config["server_version"]
    major, minor, build, rev = BUILDS[name]
    return (f'<h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" MajorBuildNumber="{build}" '
            f'MinorBuildNumber="{rev}" Version="{name}" xmlns:h="{NS_T}" xmlns="{NS_T}"/>')


def parse_request(body: bytes):
    """The op element and the header element; Fault for anything Exchange would refuse."""
    try:
        root = SafeET.fromstring(body)
    except Exception as e:  # defusedxml raises several types (ParseError, EntitiesForbidden, ...)
        raise Fault("ErrorSchemaValidation", f"The request failed schema validation: not well-formed XML ({e}).") \
            from None
    if local(root.tag) != "Envelope" or namespace(root.tag) != NS_SOAP:
        raise schema_error(f"the root element must be Envelope in {NS_SOAP} (SOAP 1.1), got '{local(root.tag)}' "
                           f"in '{namespace(root.tag)}'.")
    header = root.find(S + "Header")
    body_el = root.find(S + "Body")
    if body_el is None:
        raise schema_error("the SOAP Envelope has no Body.")
    ops = list(body_el)
    if len(ops) != 1:
        raise schema_error(f"the SOAP Body must hold exactly one operation element, found {len(ops)}.")
    op = ops[0]
    if namespace(op.tag) != NS_M:
        raise schema_error(f"the operation element '{local(op.tag)}' must be in the messages namespace {NS_M}, "
                           f"not '{namespace(op.tag)}'.")
    check_namespaces(op)
    return header, op


def apply_header(ctx, header):
    """RequestServerVersion and ExchangeImpersonation."""
    rsv = header.find(T + "RequestServerVersion") if header is not None else None
    if header is not None:
        for h in header:
            if namespace(h.tag) != NS_T:
                raise schema_error(f"the SOAP header element '{local(h.tag)}' must be in {NS_T}.")
    if rsv is None:
        # Real Exchange treats a request without RequestServerVersion as Exchange2007 (RTM);
        # issue 11 asks the fake to refuse it so that a client that forgets it is caught.
        raise Fault("ErrorSchemaValidation", "The request failed schema validation: the SOAP header has no "
                    "t:RequestServerVersion (this fake requires it; Exchange would assume Exchange2007).")
    version = rsv.get("Version")
    if version not in RANK:
        raise Fault("ErrorInvalidServerVersion", f"The specified server version is invalid: '{version}'. "
                    f"Known versions: {', '.join(VERSIONS)}.")
    if RANK[version] > RANK[ctx.config["server_version"]]:
        raise Fault("ErrorInvalidServerVersion", f"The specified server version is invalid: '{version}' is newer "
                    f"than this server ({ctx.config['server_version']}).")
    ctx.version = version
    ctx.mailbox = ctx.store.mailbox_for(ctx.login)
    imp = header.find(T + "ExchangeImpersonation")
    if imp is not None:
        sid = child(imp, T + "ConnectingSID")
        target = None
        for tag in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
            v = sid.findtext(T + tag)
            if v:
                target = v.strip()
                break
        if target is None:
            raise schema_error("ConnectingSID must name the mailbox (PrimarySmtpAddress, SmtpAddress or "
                               "PrincipalName; SID is not modelled).")
        allowed = [a.lower() for a in ctx.config.get("impersonation_accounts", [])]
        if ctx.login.lower() not in allowed:
            raise Fault("ErrorImpersonateUserDenied", "The account does not have permission to impersonate the "
                        f"requested user ({ctx.login} has no ApplicationImpersonation role).")
        mbx = ctx.store.mailbox_for(target)
        if mbx is None:
            raise Fault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        ctx.impersonated = mbx
        ctx.mailbox = mbx
    if ctx.mailbox is None:
        raise Fault("ErrorNonExistentMailbox", f"The account '{ctx.login}' has no mailbox on this server.")


def handle(server, login, auth_scheme, conn_id, body: bytes, record):
    """Returns (http status, envelope text) or (200, generator) for streaming operations."""
    ctx = Context(server, login, auth_scheme, conn_id)
    try:
        header, op = parse_request(body)
        ctx.operation = local(op.tag)
        record["operation"] = ctx.operation
        apply_header(ctx, header)
        record["version"] = ctx.version
        record["mailbox"] = ctx.mailbox.user
        entry = OPERATIONS.get(ctx.operation)
        if entry is None:
            raise Fault("ErrorInvalidOperation", f"The operation '{ctx.operation}' is not implemented by the fake "
                        "EWS server (see scripts/testbed/README.md).")
        fn, since = entry
        ctx.need(since, f"the {ctx.operation} operation")
        with server.store.lock:
            result = fn(ctx, op)
    except Fault as f:
        record["fault"] = f.code
        return 500, f.xml()
    except EwsError as e:  # an error that applies to the whole request: one error ResponseMessage
        record["error"] = e.code
        return 200, envelope(response(ctx.operation, [error(ctx.operation, e)]), server_version_header(server.config))
    if callable(result):  # a streaming operation returns a generator factory
        return 200, result
    return 200, envelope(result, server_version_header(server.config))
