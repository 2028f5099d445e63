"""ResolveNames and ConvertId: what EWS clients call around the mail operations."""
from .fields import mailbox_xml
from .soap import M, EwsError, child, error, ok, operation, raw, response, schema_error
from .store import StoreError, parse_id


@operation("ResolveNames")
def resolve_names(ctx, op):
    entry = (child(op, M + "UnresolvedEntry").text or "").strip()
    if not entry:
        raise schema_error("UnresolvedEntry must not be empty.")
    needle = entry.lower().removeprefix("smtp:")
    found = [m for m in ctx.store.mailboxes.values()
             if needle in (m.user.lower(), m.address.lower()) or m.display_name.lower().startswith(needle)
             or m.address.lower().startswith(needle)]
    if not found:
        e = EwsError("ErrorNameResolutionNoResults", "No results were found.")
        return response("ResolveNames", [error("ResolveNames", e)])
    found.sort(key=lambda m: m.address)
    inner = "".join(raw("t:Resolution", mailbox_xml(ctx, (m.display_name, m.address))) for m in found)
    rs = raw("m:ResolutionSet", inner, {"TotalItemsInView": len(found), "IncludesLastItemInRange": "true"})
    if len(found) > 1:
        msg = (f'<m:ResolveNamesResponseMessage ResponseClass="Warning"><m:MessageText>Multiple results were '
               f"found.</m:MessageText><m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode>"
               f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{rs}</m:ResolveNamesResponseMessage>")
        return response("ResolveNames", [msg])
    return response("ResolveNames", [ok("ResolveNames", rs)])


@operation("ConvertId", since="Exchange2007_SP1")
def convert_id(ctx, op):
    dest = op.get("DestinationFormat")
    if dest not in ("EwsLegacyId", "EwsId", "EntryId", "HexEntryId", "StoreId", "OwaId"):
        raise schema_error(f"DestinationFormat '{dest}' is invalid.")
    out = []
    for aid in child(op, M + "SourceIds"):
        try:
            if aid.get("Format") not in ("EwsId", "EwsLegacyId") or dest not in ("EwsId", "EwsLegacyId"):
                raise EwsError("ErrorInvalidRequest", "The fake converts only between EwsId and EwsLegacyId "
                               "(its ids are the same in both).")
            try:
                parse_id(aid.get("Id") or "")
            except StoreError as e:
                raise EwsError(e.code, e.message) from None
            a = {"Format": dest, "Id": aid.get("Id"), "Mailbox": aid.get("Mailbox")}
            out.append(ok("ConvertId", raw("m:AlternateId", "", {"xsi:type": "t:AlternateIdType", **a})))
        except EwsError as e:
            out.append(error("ConvertId", e))
    if not out:
        raise schema_error("SourceIds must hold at least one AlternateId.")
    return response("ConvertId", out)
