"""Restriction (search expression) and SortOrder evaluation over items or folders, shared by
FindItem and FindFolder. Compiled once per request into a predicate / a sort function."""
from datetime import datetime

from .fields import parse_ews_time, uri_in_schema
from .soap import T, EwsError, child, local, schema_error

_COMPARISONS = {
    "IsEqualTo": lambda a, b: a == b,
    "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b,
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b,
    "IsLessThanOrEqualTo": lambda a, b: a <= b,
}
# Nesting depth of And/Or/Not accepted (a hostile request cannot recurse the fake to death).
MAX_RESTRICTION_DEPTH = 32


# MAPI properties (PropertyTag) a restriction may name through t:ExtendedFieldURI on messages,
# as Exchange allows: the addresses behind From and Sender (message:From / message:Sender
# restrictions match the display name on Exchange, so clients search addresses this way).
_EXTENDED_ITEM_PROPERTIES = {
    0x0065: ("PidTagSentRepresentingEmailAddress", lambda i: (i.summary.from_ or ("", ""))[1] or None),
    0x0C1F: ("PidTagSenderEmailAddress", lambda i: (i.summary.sender or ("", ""))[1] or None),
}


def _extended_getter(ext, table):
    """t:ExtendedFieldURI PropertyTag=... PropertyType="String" on items -> (name, getter)."""
    tag, kind = ext.get("PropertyTag"), ext.get("PropertyType")
    try:
        number = int(tag, 0) if tag else None
    except ValueError:
        raise schema_error(f"PropertyTag '{tag}' is not a number.") from None
    if number in _EXTENDED_ITEM_PROPERTIES and kind == "String" and "message:From" in table:
        return _EXTENDED_ITEM_PROPERTIES[number]
    raise EwsError("ErrorUnsupportedPathForQuery",
                   "ExtendedFieldURI restrictions are not modelled by the fake except PropertyTag "
                   + ", ".join(f"0x{n:04X}" for n in _EXTENDED_ITEM_PROPERTIES) + " (String) on messages.")


def _field_getter(elem, table, ctx):
    """t:FieldURI in a restriction -> value getter; unknown or unsearchable -> errors."""
    fu = elem.find(T + "FieldURI")
    if fu is None:
        ext = elem.find(T + "ExtendedFieldURI")
        if ext is not None:
            return _extended_getter(ext, table)
        other = [local(c.tag) for c in elem if local(c.tag) == "IndexedFieldURI"]
        if other:
            raise EwsError("ErrorUnsupportedPathForQuery", f"{other[0]} restrictions are not modelled by the fake.")
        raise schema_error(f"'{local(elem.tag)}' needs a t:FieldURI.")
    uri = fu.get("FieldURI")
    if uri not in table:
        if uri_in_schema(uri):
            raise EwsError("ErrorUnsupportedPathForQuery", f"The property {uri} cannot be used in a restriction here.")
        raise schema_error(f"the FieldURI attribute value '{uri}' is invalid.")
    getter = table[uri]
    if getter is None:
        raise EwsError("ErrorUnsupportedPathForQuery", f"The property {uri} cannot be used in a restriction.")
    return uri, getter


def _convert(constant, sample_type, uri):
    if sample_type is bool:
        if constant.lower() not in ("true", "false", "1", "0"):
            raise EwsError("ErrorInvalidValueForProperty", f"'{constant}' is not a boolean for {uri}.")
        return constant.lower() in ("true", "1")
    if sample_type is datetime:
        try:
            return parse_ews_time(constant)
        except ValueError:
            raise EwsError("ErrorInvalidValueForPropertyDate", f"'{constant}' is not an xs:dateTime for {uri}.") \
                from None
    if sample_type is int:
        try:
            return int(constant)
        except ValueError:
            raise EwsError("ErrorInvalidValueForProperty", f"'{constant}' is not an integer for {uri}.") from None
    return constant


_TYPES = {  # the type of each searchable property, for converting constants
    "message:IsRead": bool, "item:IsDraft": bool, "item:HasAttachments": bool, "item:DateTimeReceived": datetime,
    "item:DateTimeSent": datetime, "item:DateTimeCreated": datetime, "item:LastModifiedTime": datetime,
    "item:Size": int, "folder:TotalCount": int, "folder:ChildFolderCount": int, "folder:UnreadCount": int,
}


def _norm(v):
    return v.lower() if isinstance(v, str) else v


def _pair_texts(v):
    return [x for x in v if x] if isinstance(v, tuple) else [v]


def compile_restriction(restriction_elem, table, ctx):
    """m:Restriction -> predicate(obj)."""
    exprs = list(restriction_elem)
    if len(exprs) != 1:
        raise schema_error("Restriction must contain exactly one search expression.")
    return _compile(exprs[0], table, ctx, 0)


def _compile(e, table, ctx, depth):
    if depth > MAX_RESTRICTION_DEPTH:
        raise EwsError("ErrorRestrictionTooComplex", f"Restriction nested deeper than {MAX_RESTRICTION_DEPTH}.")
    name = local(e.tag)
    if name in ("And", "Or"):
        parts = [_compile(c, table, ctx, depth + 1) for c in e]
        if len(parts) < 1:
            raise schema_error(f"{name} needs at least one search expression.")
        if name == "And":
            return lambda o: all(p(o) for p in parts)
        return lambda o: any(p(o) for p in parts)
    if name == "Not":
        kids = list(e)
        if len(kids) != 1:
            raise schema_error("Not needs exactly one search expression.")
        inner = _compile(kids[0], table, ctx, depth + 1)
        return lambda o: not inner(o)
    if name == "Exists":
        _, getter = _field_getter(e, table, ctx)
        return lambda o: getter(o) not in (None, "", [])
    if name in _COMPARISONS:
        uri, getter = _field_getter(e, table, ctx)
        op = _COMPARISONS[name]
        right = child(e, T + "FieldURIOrConstant")
        const = right.find(T + "Constant")
        if const is not None:
            value = _convert(const.get("Value", ""), _TYPES.get(uri, str), uri)
            right_get = lambda o: value  # noqa: E731
        else:
            _, right_get = _field_getter(right, table, ctx)

        def compare(o):
            left, rv = getter(o), right_get(o)
            if left is None or rv is None:
                return name == "IsNotEqualTo" and left != rv
            if isinstance(left, tuple):  # a mailbox: equal when the name or the address matches
                texts = [_norm(x) for x in _pair_texts(left)]
                if name == "IsEqualTo":
                    return _norm(rv) in texts
                if name == "IsNotEqualTo":
                    return _norm(rv) not in texts
                return op(texts[-1], _norm(rv))
            try:
                return op(_norm(left), _norm(rv))
            except TypeError:
                return False
        return compare
    if name == "Contains":
        uri, getter = _field_getter(e, table, ctx)
        const = child(e, T + "Constant")
        needle = const.get("Value", "")
        mode = e.get("ContainmentMode", "FullString")
        comparison = e.get("ContainmentComparison", "Exact")
        if mode not in ("FullString", "Prefixed", "Substring", "PrefixOnWords", "ExactPhrase"):
            raise schema_error(f"ContainmentMode '{mode}' is invalid.")
        if comparison not in ("Exact", "IgnoreCase", "IgnoreNonSpacingCharacters", "Loose",
                              "IgnoreCaseAndNonSpacingCharacters", "LooseAndIgnoreCase",
                              "LooseAndIgnoreNonSpace", "LooseAndIgnoreCaseAndIgnoreNonSpace"):
            raise schema_error(f"ContainmentComparison '{comparison}' is invalid.")
        if _TYPES.get(uri, str) is not str:
            raise EwsError("ErrorUnsupportedPathForQuery", f"Contains cannot be used on the non-text property {uri}.")
        fold = "IgnoreCase" in comparison or comparison == "Loose"
        n = needle.lower() if fold else needle

        def contains(o):
            v = getter(o)
            if v is None:
                return False
            for text in _pair_texts(v):
                t = text.lower() if fold else text
                if mode == "FullString" and t == n:
                    return True
                if mode == "Prefixed" and t.startswith(n):
                    return True
                if mode in ("Substring", "ExactPhrase") and n in t:
                    return True
                if mode == "PrefixOnWords" and any(w.startswith(n) for w in t.split()):
                    return True
            return False
        return contains
    if name == "Excludes":
        raise EwsError("ErrorUnsupportedPathForQuery", "Excludes (bitmask) restrictions are not modelled by the fake.")
    raise schema_error(f"'{name}' is not a search expression.")


def sort_function(sort_elem, table, ctx, default):
    """m:SortOrder -> function(list) -> sorted list (stable, keys applied last-to-first)."""
    if sort_elem is None:
        return default
    keys = []
    for fo in sort_elem:
        if local(fo.tag) != "FieldOrder":
            raise schema_error("SortOrder may only contain t:FieldOrder.")
        order = fo.get("Order")
        if order not in ("Ascending", "Descending"):
            raise schema_error(f"FieldOrder Order '{order}' must be Ascending or Descending.")
        _, getter = _field_getter(fo, table, ctx)
        keys.append((getter, order == "Descending"))

    def key_of(getter):
        def k(o):
            v = getter(o)
            if isinstance(v, tuple):
                v = (v[0] or v[1] or "")
            if isinstance(v, str):
                v = v.lower()
            return (v is not None, v if v is not None else 0)
        return k

    def run(objs):
        out = list(objs)
        for getter, desc in reversed(keys):
            out.sort(key=key_of(getter), reverse=desc)
        return out
    return run


def page(objs, view, ctx, view_name):
    """Applies an Indexed page view. Returns (slice, IndexedPagingOffset, total, includes_last)."""
    total = len(objs)
    if view is None:
        return objs, total, total, True
    max_attr, off_attr, base = view.get("MaxEntriesReturned"), view.get("Offset"), view.get("BasePoint")
    if off_attr is None or base is None:
        raise schema_error(f"{view_name} requires the Offset and BasePoint attributes.")
    if base not in ("Beginning", "End"):
        raise schema_error(f"BasePoint '{base}' must be Beginning or End.")
    try:
        offset = int(off_attr)
        max_n = int(max_attr) if max_attr is not None else None
    except ValueError:
        raise schema_error(f"{view_name} Offset/MaxEntriesReturned must be integers.") from None
    if offset < 0 or (max_n is not None and max_n < 1):
        raise schema_error(f"{view_name}: Offset must be >= 0 and MaxEntriesReturned >= 1.")
    if base == "Beginning":
        end = total if max_n is None else min(total, offset + max_n)
        chunk = objs[offset:end] if offset < total else []
        return chunk, offset + len(chunk), total, offset + len(chunk) >= total
    # BasePoint End: Offset counts back from the last item.
    end = max(0, total - offset)
    start = 0 if max_n is None else max(0, end - max_n)
    chunk = objs[start:end]
    return chunk, offset + len(chunk), total, start == 0
