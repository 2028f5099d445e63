"""The in-memory mail store: users, their folders and messages, the event log that feeds
subscriptions. One lock (and condition, for streaming waiters) guards everything; every
operation runs under it. Ids are opaque base64 strings like Exchange's; ids and change keys
change the way Exchange's do (a move gives a new item id, every change a new change key).
"""
import base64
import itertools
import os
import struct
import threading
from datetime import datetime, timedelta, timezone

from .mime import Summary, conversation_id_for

# Kept events per mailbox; a watermark older than the oldest kept event is refused with
# ErrorInvalidWatermark (Exchange keeps them for a limited time too).
MAX_EVENTS_PER_MAILBOX = 20000
# A message larger than this is refused (ErrorMessageSizeExceeded), like Exchange's 35 MB.
MAX_MESSAGE_BYTES = 35 * 1024 * 1024
# Messages per mailbox (the fake lives in memory).
MAX_ITEMS_PER_MAILBOX = 50000

_ID_MAGIC = b"MBfk"
KIND_FOLDER, KIND_ITEM, KIND_SUB, KIND_WM, KIND_CONV = 1, 2, 3, 4, 5

# (distinguished id, display name, folder class, parent distinguished id, hidden)
DISTINGUISHED = [
    ("root", "", None, None, False),
    ("msgfolderroot", "Top of Information Store", "IPF.Note", "root", False),
    ("inbox", "Inbox", "IPF.Note", "msgfolderroot", False),
    ("drafts", "Drafts", "IPF.Note", "msgfolderroot", False),
    ("sentitems", "Sent Items", "IPF.Note", "msgfolderroot", False),
    ("deleteditems", "Deleted Items", "IPF.Note", "msgfolderroot", False),
    ("junkemail", "Junk Email", "IPF.Note", "msgfolderroot", False),
    ("outbox", "Outbox", "IPF.Note", "msgfolderroot", False),
    ("calendar", "Calendar", "IPF.Appointment", "msgfolderroot", False),
    ("contacts", "Contacts", "IPF.Contact", "msgfolderroot", False),
    ("tasks", "Tasks", "IPF.Task", "msgfolderroot", False),
    ("notes", "Notes", "IPF.StickyNote", "msgfolderroot", False),
    ("journal", "Journal", "IPF.Journal", "msgfolderroot", False),
    ("recoverableitemsroot", "Recoverable Items", None, "root", True),
    ("recoverableitemsdeletions", "Deletions", None, "recoverableitemsroot", True),
]


class StoreError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def utcnow():
    return datetime.now(timezone.utc).replace(microsecond=0)


def make_id(kind, mailbox_index, number):
    raw = _ID_MAGIC + struct.pack("<BIQ", kind, mailbox_index, number) + os.urandom(6)
    return base64.b64encode(b"\x00\x00\x00\x2e" + raw).decode()


def parse_id(text, kind=None):
    """(kind, mailbox_index, number) or raises ErrorInvalidIdMalformed."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise StoreError("ErrorInvalidIdMalformed", "Id is malformed.") from None
    if len(raw) != 4 + 4 + 13 + 6 or raw[4:8] != _ID_MAGIC:
        raise StoreError("ErrorInvalidIdMalformed", "Id is malformed.")
    k, mbx, num = struct.unpack_from("<BIQ", raw, 8)
    if kind is not None and k != kind:
        raise StoreError("ErrorInvalidIdMalformed", "Id is malformed (it names another kind of object).")
    return k, mbx, num


class Folder:
    def __init__(self, mailbox, fid, name, folder_class, parent, distinguished=None, hidden=False):
        self.mailbox, self.id, self.name, self.folder_class = mailbox, fid, name, folder_class
        self.parent, self.distinguished, self.hidden = parent, distinguished, hidden
        self.children = []
        self.items = {}  # id -> Item, insertion order = arrival order
        self.change_key = mailbox.store.new_change_key()

    def touch(self):
        self.change_key = self.mailbox.store.new_change_key()

    def is_mail(self):
        return self.folder_class in (None, "IPF.Note") or (self.folder_class or "").startswith("IPF.Note.")

    def path(self):
        node, names = self, []
        while node is not None and node.distinguished not in ("msgfolderroot", "root"):
            names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))

    def descendants(self):
        for c in self.children:
            yield c
            yield from c.descendants()

    def unread(self):
        return sum(1 for i in self.items.values() if not i.is_read)


class Item:
    def __init__(self, mailbox, iid, folder, mime, received, seq, is_read=False, is_draft=False, is_from_me=False):
        self.mailbox, self.id, self.folder, self.mime = mailbox, iid, folder, mime
        self.received, self.created, self.modified = received, received, received
        self.seq, self.is_read, self.is_draft, self.is_from_me = seq, is_read, is_draft, is_from_me
        self.flag = {"status": "NotFlagged"}
        self.categories = []
        self.change_key = mailbox.store.new_change_key()
        self.summary = Summary(mime)
        self.conversation_id = mailbox.conversation_for(self.summary)

    def changed(self):
        self.change_key = self.mailbox.store.new_change_key()
        self.modified = self.mailbox.store.next_time()


class Event:
    def __init__(self, seq, kind, when, item=None, folder=None, old_item_id=None, old_folder=None, unread=None):
        self.seq, self.kind, self.when = seq, kind, when
        self.item_id = item.id if item else None
        self.item_ck = item.change_key if item else None
        self.folder_id, self.folder_ck = (folder.id, folder.change_key) if folder else (None, None)
        self.old_item_id, self.unread = old_item_id, unread
        self.old_folder_id = old_folder.id if old_folder else None
        self.old_folder_ck = old_folder.change_key if old_folder else None
        self.folder_ids = {f.id for f in (folder, old_folder) if f is not None}


class Mailbox:
    def __init__(self, store, index, user, address, display_name):
        self.store, self.index, self.user, self.address, self.display_name = store, index, user, address, display_name
        self.folders = {}
        self.distinguished = {}
        self.items = {}
        self.events = []
        self.event_seq = 0
        self.conversations = {}  # Message-ID -> conversation id bytes
        for did, name, klass, parent, hidden in DISTINGUISHED:
            self._add_folder(name, klass, self.distinguished.get(parent), did, hidden)

    def _add_folder(self, name, klass, parent, distinguished=None, hidden=False):
        f = Folder(self, make_id(KIND_FOLDER, self.index, self.store.next_number()), name, klass, parent,
                   distinguished, hidden)
        self.folders[f.id] = f
        if distinguished:
            self.distinguished[distinguished] = f
        if parent is not None:
            parent.children.append(f)
        return f

    def create_folder(self, parent, name, klass="IPF.Note"):
        if any(c.name.lower() == name.lower() for c in parent.children):
            raise StoreError("ErrorFolderExists", "A folder with the specified name already exists.")
        f = self._add_folder(name, klass, parent)
        self.log("CreatedEvent", folder=parent, created_folder=f)
        return f

    def folder_by_path(self, path, create=True):
        """'INBOX', 'Inbox/Sub' or 'Sent Items': the IMAP-ish names the control API takes."""
        parts = [p for p in path.replace("\\", "/").split("/") if p]
        if not parts:
            raise StoreError("ErrorFolderNotFound", "empty folder path")
        first = parts[0].lower()
        aliases = {"inbox": "inbox", "sent": "sentitems", "sent items": "sentitems", "drafts": "drafts",
                   "trash": "deleteditems", "deleted items": "deleteditems", "junk": "junkemail",
                   "junk email": "junkemail", "spam": "junkemail"}
        node = self.distinguished.get(aliases.get(first, first))
        rest = parts[1:]
        if node is None or node.distinguished in ("root", "recoverableitemsroot"):
            node, rest = self.distinguished["msgfolderroot"], parts
        for name in rest:
            nxt = next((c for c in node.children if c.name.lower() == name.lower()), None)
            if nxt is None:
                if not create:
                    raise StoreError("ErrorFolderNotFound", f"no folder '{path}'")
                nxt = self.create_folder(node, name)
            node = nxt
        return node

    def conversation_for(self, summary):
        for mid in (summary.references or "").split() + (summary.in_reply_to or "").split():
            if mid in self.conversations:
                conv = self.conversations[mid]
                break
        else:
            conv = conversation_id_for(summary.thread_root)
        if summary.message_id:
            self.conversations.setdefault(summary.message_id, conv)
        return conv

    # -- events ----------------------------------------------------------------------------
    def log(self, kind, item=None, folder=None, old_item_id=None, old_folder=None, created_folder=None):
        self.event_seq += 1
        ev = Event(self.event_seq, kind, self.store.next_time(), item, folder, old_item_id, old_folder)
        if created_folder is not None:
            ev.created_folder_id = created_folder.id
        if folder is not None and kind in ("ModifiedEvent", "NewMailEvent", "CreatedEvent", "DeletedEvent"):
            ev.unread = folder.unread() if item is not None else None
        self.events.append(ev)
        if len(self.events) > MAX_EVENTS_PER_MAILBOX:
            del self.events[: len(self.events) - MAX_EVENTS_PER_MAILBOX]
        self.store.cond.notify_all()
        return ev

    def oldest_kept_seq(self):
        return self.events[0].seq - 1 if self.events else self.event_seq

    # -- items -----------------------------------------------------------------------------
    def add_item(self, folder, mime, is_read=False, new_mail=True, is_draft=False, is_from_me=False):
        if len(mime) > MAX_MESSAGE_BYTES:
            raise StoreError("ErrorMessageSizeExceeded",
                             f"The message exceeds the maximum supported size ({MAX_MESSAGE_BYTES} bytes).")
        if len(self.items) >= MAX_ITEMS_PER_MAILBOX:
            raise StoreError("ErrorQuotaExceeded", f"The mailbox holds {MAX_ITEMS_PER_MAILBOX} items, the fake's limit.")
        item = Item(self, make_id(KIND_ITEM, self.index, self.store.next_number()), folder, mime,
                    self.store.next_time(), self.store.next_number(), is_read, is_draft, is_from_me)
        folder.items[item.id] = item
        self.items[item.id] = item
        folder.touch()
        self.log("CreatedEvent", item=item, folder=folder)
        if new_mail:
            self.log("NewMailEvent", item=item, folder=folder)
        return item

    def remove_item(self, item, log=True):
        del item.folder.items[item.id]
        del self.items[item.id]
        item.folder.touch()
        if log:
            self.log("DeletedEvent", item=item, folder=item.folder)

    def move_item(self, item, target, copy=False):
        """Returns the item in `target` (a new id: Exchange ids change on move)."""
        dest_mbx = target.mailbox
        new = Item(dest_mbx, make_id(KIND_ITEM, dest_mbx.index, self.store.next_number()), target, item.mime,
                   item.received, item.seq if not copy else self.store.next_number(), item.is_read, item.is_draft,
                   item.is_from_me)
        new.flag, new.categories, new.created = dict(item.flag), list(item.categories), item.created
        target.items[new.id] = new
        dest_mbx.items[new.id] = new
        target.touch()
        if copy:
            dest_mbx.log("CopiedEvent", item=new, folder=target, old_item_id=item.id, old_folder=item.folder)
        else:
            self.remove_item(item, log=False)
            if dest_mbx is self:
                self.log("MovedEvent", item=new, folder=target, old_item_id=item.id, old_folder=item.folder)
            else:
                self.log("DeletedEvent", item=item, folder=item.folder)
                dest_mbx.log("CreatedEvent", item=new, folder=target)
        return new


class Store:
    def __init__(self, users, mail_domain):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.mail_domain = mail_domain
        self.generation = 0
        self._init_data(users)

    def _init_data(self, users):
        self.generation += 1
        self._numbers = itertools.count(1)
        self._ck = itertools.count(1)
        self._last_time = utcnow() - timedelta(days=1)
        self.mailboxes = {}
        self.by_address = {}
        self.sent_log = []  # every message sent through the fake, for tests
        self.subscriptions = {}
        for i, u in enumerate(users, start=1):
            mbx = Mailbox(self, i, u["name"], u["address"], u.get("display_name") or u["name"].title())
            self.mailboxes[u["name"].lower()] = mbx
            self.by_address[u["address"].lower()] = mbx

    def next_number(self):
        return next(self._numbers)

    def new_change_key(self):
        n = next(self._ck)
        return base64.b64encode(b"\x10\x00\x00\x00" + _ID_MAGIC + struct.pack("<Q", n) + os.urandom(4)).decode()

    def next_time(self):
        """Now, but strictly increasing by whole seconds so that sorting by DateTimeReceived
        is deterministic (EWS times have second resolution)."""
        now = utcnow()
        if now <= self._last_time:
            now = self._last_time + timedelta(seconds=1)
        self._last_time = now
        return now

    def mailbox_by_index(self, index):
        for m in self.mailboxes.values():
            if m.index == index:
                return m
        return None

    def mailbox_for(self, name_or_address):
        key = (name_or_address or "").lower()
        return self.mailboxes.get(key) or self.by_address.get(key)

    def find_folder(self, fid):
        _, idx, _ = parse_id(fid, KIND_FOLDER)
        mbx = self.mailbox_by_index(idx)
        f = mbx.folders.get(fid) if mbx else None
        if f is None:
            raise StoreError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        return f

    def find_item(self, iid):
        _, idx, _ = parse_id(iid, KIND_ITEM)
        mbx = self.mailbox_by_index(idx)
        item = mbx.items.get(iid) if mbx else None
        if item is None:
            raise StoreError("ErrorItemNotFound", "The specified object was not found in the store.")
        return item

    def reset(self, users):
        """Empties every mailbox, drops subscriptions (streaming waiters notice the new generation)."""
        with self.lock:
            self._init_data(users)
            self.cond.notify_all()
