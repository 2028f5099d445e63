"""GetFolder, FindFolder, CreateFolder."""
from .fields import FOLDER_FIELDS, render_folder
from .restrict import compile_restriction, page
from .shapes import folder_fields
from .soap import M, T, EwsError, StoreError, child, error, from_store, local, ok, operation, raw, response, \
    schema_error

_FOLDER_GETTERS = {uri: spec[2] for uri, spec in FOLDER_FIELDS.items()}


def folder_ids(op_elem, name, ctx):
    ids = list(child(op_elem, M + name))
    if not ids:
        raise schema_error(f"{name} must contain at least one folder id.")
    return ids


@operation("GetFolder")
def get_folder(ctx, op):
    fields = folder_fields(child(op, M + "FolderShape"), ctx)
    out = []
    for fid in folder_ids(op, "FolderIds", ctx):
        try:
            f = ctx.folder(fid)
            out.append(ok("GetFolder", raw("m:Folders", render_folder(f, ctx, fields))))
        except EwsError as e:
            out.append(error("GetFolder", e, "<m:Folders/>"))
    return response("GetFolder", out)


@operation("FindFolder")
def find_folder(ctx, op):
    traversal = op.get("Traversal")
    if traversal not in ("Shallow", "Deep", "SoftDeleted"):
        raise schema_error(f"FindFolder Traversal '{traversal}' must be Shallow, Deep or SoftDeleted.")
    fields = folder_fields(child(op, M + "FolderShape"), ctx)
    view = op.find(M + "IndexedPageFolderView")
    if op.find(M + "FractionalPageFolderView") is not None:
        raise EwsError("ErrorInvalidOperation", "FractionalPageFolderView is not modelled by the fake.")
    restriction = op.find(M + "Restriction")
    out = []
    for fid in folder_ids(op, "ParentFolderIds", ctx):
        try:
            parent = ctx.folder(fid)
            predicate = compile_restriction(restriction, _FOLDER_GETTERS, ctx) if restriction is not None else None
            if traversal == "Shallow":
                found = list(parent.children)
            elif traversal == "Deep":
                found = list(parent.descendants())
            else:
                found = []
            found = [f for f in found if not f.hidden and (predicate is None or predicate(f))]
            chunk, next_offset, total, last = page(found, view, ctx, "IndexedPageFolderView")
            attrs = {"TotalItemsInView": total, "IncludesLastItemInRange": "true" if last else "false"}
            if view is not None:
                attrs = {"IndexedPagingOffset": next_offset, **attrs}
            inner = raw("t:Folders", "".join(render_folder(f, ctx, fields) for f in chunk))
            out.append(ok("FindFolder", raw("m:RootFolder", inner, attrs)))
        except EwsError as e:
            out.append(error("FindFolder", e))
    return response("FindFolder", out)


_CLASSES = {"Folder": "IPF.Note", "CalendarFolder": "IPF.Appointment", "ContactsFolder": "IPF.Contact",
            "TasksFolder": "IPF.Task", "SearchFolder": None}


@operation("CreateFolder")
def create_folder(ctx, op):
    parent_elem = list(child(op, M + "ParentFolderId"))
    if len(parent_elem) != 1:
        raise schema_error("ParentFolderId must hold one folder id.")
    out = []
    try:
        parent = ctx.folder(parent_elem[0])
    except EwsError as e:
        return response("CreateFolder", [error("CreateFolder", e, "<m:Folders/>")])
    for fe in child(op, M + "Folders"):
        kind = local(fe.tag)
        if kind not in _CLASSES or kind == "SearchFolder":
            raise schema_error(f"'{kind}' folders cannot be created in the fake.")
        name = fe.findtext(T + "DisplayName")
        if not name:
            out.append(error("CreateFolder", EwsError("ErrorInvalidFolderName", "A folder needs a DisplayName."),
                             "<m:Folders/>"))
            continue
        try:
            f = parent.mailbox.create_folder(parent, name, fe.findtext(T + "FolderClass") or _CLASSES[kind])
            out.append(ok("CreateFolder", raw("m:Folders", render_folder(f, ctx, {"folder:FolderId"}))))
        except StoreError as e:
            out.append(error("CreateFolder", from_store(e), "<m:Folders/>"))
    return response("CreateFolder", out)
