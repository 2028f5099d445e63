"""FindItem, GetItem, UpdateItem, MoveItem, CopyItem, DeleteItem."""
import base64

from .fields import ITEM_FIELDS, parse_ews_time, render_item, uri_in_schema
from .restrict import compile_restriction, page, sort_function
from .shapes import item_fields
from .soap import M, T, EwsError, child, error, local, ok, operation, raw, response, schema_error, \
    MAX_IDS_PER_REQUEST
from .xmlout import el

_ITEM_GETTERS = {uri: spec[3] for uri, spec in ITEM_FIELDS.items()}


def _default_order(items):
    # Without SortOrder the fake lists newest first (DateTimeReceived descending, then arrival),
    # which is what an Exchange folder view shows; clients that page should send a SortOrder.
    return sorted(items, key=lambda i: (i.received, i.seq), reverse=True)


def item_id_elems(op, name):
    ids = list(child(op, M + name))
    if not ids:
        raise schema_error(f"{name} must contain at least one item id.")
    if len(ids) > MAX_IDS_PER_REQUEST:
        raise EwsError("ErrorBatchProcessingStopped", f"More than {MAX_IDS_PER_REQUEST} ids in one request.")
    return ids


def id_only(item):
    return raw("t:Message", el("t:ItemId", None, {"Id": item.id, "ChangeKey": item.change_key}))


@operation("FindItem")
def find_item(ctx, op):
    traversal = op.get("Traversal")
    if traversal not in ("Shallow", "SoftDeleted", "Associated"):
        raise schema_error(f"FindItem Traversal '{traversal}' must be Shallow, SoftDeleted or Associated.")
    for unsupported in ("GroupBy", "DistinguishedGroupBy", "QueryString", "FractionalPageItemView",
                        "CalendarView", "ContactsView", "SeekToConditionPageItemView"):
        if op.find(M + unsupported) is not None:
            raise EwsError("ErrorInvalidOperation", f"FindItem with {unsupported} is not modelled by the fake.")
    parents = list(child(op, M + "ParentFolderIds"))
    if not parents:
        raise schema_error("ParentFolderIds must contain at least one folder id.")
    out = []
    for fid in parents:
        try:
            fields = item_fields(child(op, M + "ItemShape"), ctx, for_find=True)
            folder = ctx.folder(fid)
            restriction = op.find(M + "Restriction")
            predicate = compile_restriction(restriction, _ITEM_GETTERS, ctx) if restriction is not None else None
            order = sort_function(op.find(M + "SortOrder"), _ITEM_GETTERS, ctx, _default_order)
            items = list(folder.items.values()) if traversal == "Shallow" else []
            items = order([i for i in items if predicate is None or predicate(i)])
            view = op.find(M + "IndexedPageItemView")
            chunk, next_offset, total, last = page(items, view, ctx, "IndexedPageItemView")
            attrs = {"TotalItemsInView": total, "IncludesLastItemInRange": "true" if last else "false"}
            if view is not None:
                attrs = {"IndexedPagingOffset": next_offset, **attrs}
            inner = raw("t:Items", "".join(render_item(i, ctx, fields) for i in chunk))
            out.append(ok("FindItem", raw("m:RootFolder", inner, attrs)))
        except EwsError as e:
            out.append(error("FindItem", e))
    return response("FindItem", out)


@operation("GetItem")
def get_item(ctx, op):
    fields = item_fields(child(op, M + "ItemShape"), ctx, for_find=False)
    out = []
    for ie in item_id_elems(op, "ItemIds"):
        try:
            item = ctx.item(ie)
            out.append(ok("GetItem", raw("m:Items", render_item(item, ctx, fields))))
        except EwsError as e:
            out.append(error("GetItem", e, "<m:Items/>"))
    return response("GetItem", out)


def _change_key_state(item, given):
    """'current', 'stale', or raises ErrorInvalidChangeKey for something that is no change key."""
    if given is None or given == item.change_key:
        return "current"
    try:
        raw_ck = base64.b64decode(given, validate=True)
    except ValueError:
        raw_ck = b""
    if len(raw_ck) != 20 or raw_ck[4:8] != b"MBfk":
        raise EwsError("ErrorInvalidChangeKey", "ChangeKey is invalid.")
    return "stale"


def _bool(text, uri):
    t = (text or "").strip().lower()
    if t not in ("true", "false", "1", "0"):
        raise schema_error(f"'{text}' is not a valid xs:boolean for {uri}.")
    return t in ("true", "1")


def _apply_set(ctx, item, uri, value_elem):
    """value_elem: the t:Message (or t:Item) holding the new value."""
    if uri == "message:IsRead":
        v = value_elem.find(T + "IsRead")
        if v is None:
            raise EwsError("ErrorIncorrectUpdatePropertyCount", "SetItemField message:IsRead without t:IsRead.")
        item.is_read = _bool(v.text, uri)
        return
    if uri == "item:Flag":
        ctx.need("Exchange2013", "item:Flag")
        f = value_elem.find(T + "Flag")
        if f is None:
            raise EwsError("ErrorIncorrectUpdatePropertyCount", "SetItemField item:Flag without t:Flag.")
        status = f.findtext(T + "FlagStatus")
        if status is None:
            raise schema_error("t:Flag needs a t:FlagStatus child (NotFlagged, Flagged or Complete).")
        if status not in ("NotFlagged", "Flagged", "Complete"):
            raise schema_error(f"FlagStatus '{status}' must be NotFlagged, Flagged or Complete.")
        flag = {"status": status}
        for tag, key in (("StartDate", "start"), ("DueDate", "due"), ("CompleteDate", "complete")):
            t = f.findtext(T + tag)
            if t:
                try:
                    flag[key] = parse_ews_time(t)
                except ValueError:
                    raise EwsError("ErrorInvalidValueForPropertyDate", f"Flag {tag} '{t}' is not a date.") from None
        if status == "Flagged" and ("start" in flag) != ("due" in flag):
            raise EwsError("ErrorInvalidValueForProperty", "A Flagged flag needs both StartDate and DueDate or "
                           "neither.")
        item.flag = flag
        return
    if uri == "item:Categories":
        cats = value_elem.find(T + "Categories")
        item.categories = [s.text or "" for s in (cats if cats is not None else [])]
        return
    raise EwsError("ErrorInvalidPropertySet", f"Set action is invalid for property {uri} in the fake "
                   "(message:IsRead, item:Flag and item:Categories can be set).")


def _apply_delete(ctx, item, uri):
    if uri == "item:Flag":
        ctx.need("Exchange2013", "item:Flag")
        item.flag = {"status": "NotFlagged"}
        return
    if uri == "item:Categories":
        item.categories = []
        return
    raise EwsError("ErrorInvalidPropertyDelete", f"The property {uri} cannot be deleted.")


@operation("UpdateItem")
def update_item(ctx, op):
    conflict = op.get("ConflictResolution")
    if conflict not in ("NeverOverwrite", "AutoResolve", "AlwaysOverwrite"):
        raise schema_error(f"UpdateItem ConflictResolution '{conflict}' must be NeverOverwrite, AutoResolve or "
                           "AlwaysOverwrite (the attribute is required).")
    disposition = op.get("MessageDisposition")
    if disposition not in (None, "SaveOnly", "SendOnly", "SendAndSaveCopy"):
        raise schema_error(f"MessageDisposition '{disposition}' is invalid.")
    out = []
    changes = list(child(op, M + "ItemChanges"))
    if not changes:
        raise schema_error("ItemChanges must contain at least one ItemChange.")
    for change in changes:
        try:
            if local(change.tag) != "ItemChange":
                raise schema_error("ItemChanges may only contain t:ItemChange.")
            id_elem = next((c for c in change if local(c.tag) in ("ItemId", "OccurrenceItemId",
                                                                  "RecurringMasterItemId")), None)
            if id_elem is None:
                raise schema_error("ItemChange needs a t:ItemId.")
            item = ctx.item(id_elem)
            if disposition is None:
                raise EwsError("ErrorMessageDispositionRequired", "MessageDisposition is required for updates "
                               "of message items.")
            if disposition != "SaveOnly":
                raise EwsError("ErrorInvalidOperation", "Sending a message through UpdateItem is not modelled by "
                               "the fake (use SaveOnly, then SendItem).")
            state = _change_key_state(item, id_elem.get("ChangeKey"))
            if state == "stale" and conflict == "NeverOverwrite":
                raise EwsError("ErrorIrresolvableConflict", "The send or update operation could not be performed "
                               "because the change key passed in the request does not match the current change "
                               "key for the item.")
            updates = child(change, T + "Updates")
            for u in updates:
                kind = local(u.tag)
                fu = u.find(T + "FieldURI")
                if fu is None:
                    raise EwsError("ErrorInvalidPropertySet", f"{kind} without t:FieldURI is not modelled "
                                   "(extended and indexed properties are not).")
                uri = fu.get("FieldURI")
                if not uri_in_schema(uri):
                    raise schema_error(f"the FieldURI attribute value '{uri}' is invalid.")
                if kind in ("SetItemField", "AppendToItemField"):
                    value = next((c for c in u if local(c.tag) in ("Message", "Item")), None)
                    if value is None:
                        raise schema_error(f"{kind} needs a t:Message holding the value.")
                    _apply_set(ctx, item, uri, value)
                elif kind == "DeleteItemField":
                    _apply_delete(ctx, item, uri)
                else:
                    raise schema_error(f"'{kind}' is not an item change description.")
            # Exchange gives a new change key for every saved change, even a no-op one.
            item.changed()
            item.folder.touch()
            item.mailbox.log("ModifiedEvent", item=item, folder=item.folder)
            inner = raw("m:Items", id_only(item)) + raw("m:ConflictResults", el("t:Count", 0))
            out.append(ok("UpdateItem", inner))
        except EwsError as e:
            out.append(error("UpdateItem", e, "<m:Items/>"))
    return response("UpdateItem", out)


def _move_or_copy(ctx, op, name, copy):
    to = list(child(op, M + "ToFolderId"))
    if len(to) != 1:
        raise schema_error("ToFolderId must hold exactly one folder id.")
    rni = op.find(M + "ReturnNewItemIds")
    if rni is not None:
        ctx.need("Exchange2010_SP1", "ReturnNewItemIds")
    return_ids = rni is None or _bool(rni.text, "ReturnNewItemIds")
    out = []
    try:
        target = ctx.folder(to[0])
    except EwsError as e:
        return response(name, [error(name, e, "<m:Items/>") for _ in child(op, M + "ItemIds")])
    for ie in item_id_elems(op, "ItemIds"):
        try:
            item = ctx.item(ie)
            new = item.mailbox.move_item(item, target, copy=copy)
            out.append(ok(name, raw("m:Items", id_only(new)) if return_ids else "<m:Items/>"))
        except EwsError as e:
            out.append(error(name, e, "<m:Items/>"))
    return response(name, out)


@operation("MoveItem")
def move_item(ctx, op):
    return _move_or_copy(ctx, op, "MoveItem", copy=False)


@operation("CopyItem")
def copy_item(ctx, op):
    return _move_or_copy(ctx, op, "CopyItem", copy=True)


@operation("DeleteItem")
def delete_item(ctx, op):
    delete_type = op.get("DeleteType")
    if delete_type not in ("HardDelete", "SoftDelete", "MoveToDeletedItems"):
        raise schema_error(f"DeleteItem DeleteType '{delete_type}' must be HardDelete, SoftDelete or "
                           "MoveToDeletedItems (the attribute is required).")
    out = []
    for ie in item_id_elems(op, "ItemIds"):
        try:
            item = ctx.item(ie)
            mbx = item.mailbox
            if delete_type == "HardDelete":
                mbx.remove_item(item)
            elif delete_type == "MoveToDeletedItems" and item.folder is not mbx.distinguished["deleteditems"]:
                mbx.move_item(item, mbx.distinguished["deleteditems"])
            else:  # SoftDelete, or MoveToDeletedItems from Deleted Items: to Recoverable Items
                mbx.move_item(item, mbx.distinguished["recoverableitemsdeletions"])
            out.append(ok("DeleteItem"))
        except EwsError as e:
            out.append(error("DeleteItem", e))
    return response("DeleteItem", out)
