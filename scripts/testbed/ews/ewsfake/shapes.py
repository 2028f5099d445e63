"""ItemShape / FolderShape: which properties a response carries (BaseShape + AdditionalProperties)."""
from .fields import FOLDER_FIELDS, ITEM_FIELDS, uri_in_schema
from .soap import T, EwsError, child, local, schema_error
from .versions import at_least

BASE_SHAPES = ("IdOnly", "Default", "AllProperties")


def _additional(shape_elem, known, ctx):
    out = []
    add = shape_elem.find(T + "AdditionalProperties")
    if add is None:
        return out
    for p in add:
        kind = local(p.tag)
        if kind == "FieldURI":
            uri = p.get("FieldURI")
            if uri in known:
                out.append(uri)
            elif not uri_in_schema(uri):
                raise schema_error(f"the FieldURI attribute value '{uri}' is invalid according to its datatype "
                                   "'UnindexedFieldURIType'.")
            # A valid URI the fake does not model (calendar:Start on a message...) is not returned,
            # as Exchange omits properties an item does not have.
        elif kind in ("ExtendedFieldURI", "IndexedFieldURI", "ExceptionFieldURI"):
            continue  # not modelled: no extended properties are set on the fake's items
        else:
            raise schema_error(f"'{kind}' is not a property path.")
    return out


def item_fields(shape_elem, ctx, for_find):
    base = child(shape_elem, T + "BaseShape").text
    if base not in BASE_SHAPES:
        raise schema_error(f"BaseShape '{base}' must be one of {', '.join(BASE_SHAPES)}.")
    letter = {"IdOnly": None, "Default": "F" if for_find else "G", "AllProperties": "A"}[base]
    uris = {"item:ItemId"}
    for uri, (_, since, _, _, shapes) in ITEM_FIELDS.items():
        if letter and letter in shapes and at_least(ctx.version, since) and not (for_find and "-" in shapes):
            uris.add(uri)
    for uri in _additional(shape_elem, ITEM_FIELDS, ctx):
        since, shapes = ITEM_FIELDS[uri][1], ITEM_FIELDS[uri][4]
        if not at_least(ctx.version, since):
            raise schema_error(f"the FieldURI '{uri}' is not valid for RequestServerVersion {ctx.version} "
                               f"(introduced in {since}).")
        if for_find and "-" in shapes:
            raise EwsError("ErrorInvalidPropertyRequest", f"The property {uri} can't be used in FindItem requests.")
        uris.add(uri)
    mime = shape_elem.findtext(T + "IncludeMimeContent")
    if mime is not None and mime.strip().lower() in ("true", "1"):
        if for_find:
            raise EwsError("ErrorInvalidPropertyRequest", "MimeContent can't be used in FindItem requests.")
        uris.add("item:MimeContent")
    body_type = shape_elem.findtext(T + "BodyType")
    if body_type is not None:
        if body_type not in ("Best", "HTML", "Text"):
            raise schema_error(f"BodyType '{body_type}' must be Best, HTML or Text.")
        ctx.body_type = body_type
    return uris


def folder_fields(shape_elem, ctx):
    base = child(shape_elem, T + "BaseShape").text
    if base not in BASE_SHAPES:
        raise schema_error(f"BaseShape '{base}' must be one of {', '.join(BASE_SHAPES)}.")
    letter = {"IdOnly": None, "Default": "D", "AllProperties": "A"}[base]
    uris = {"folder:FolderId"}
    for uri, (_, _, _, shapes) in FOLDER_FIELDS.items():
        if letter and letter in shapes:
            uris.add(uri)
    uris.update(_additional(shape_elem, FOLDER_FIELDS, ctx))
    return uris
