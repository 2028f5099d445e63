"""XML output as strings, escaped the way Exchange escapes.

Exchange writes characters that XML 1.0 forbids (C0 controls, lone surrogates, U+FFFE/U+FFFF)
as numeric character references (&#x1;, &#xD800;, &#xFFFE;) instead of failing; the issue's
seed bot broke on exactly that, so the fake does it too, for every range the issue lists
(noncharacters U+FDD0-U+FDEF and U+nFFFE/U+nFFFF included). ElementTree cannot emit such
references, hence this small writer. Lone surrogates reach us from MIME headers decoded with
'surrogatepass' (see mime.py).
"""
NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages"
NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS_E = "http://schemas.microsoft.com/exchange/services/2006/errors"


def needs_reference(cp: int) -> bool:
    if cp in (0x9, 0xA):
        return False
    if cp < 0x20 or cp == 0xD:  # CR too: a raw CR would be normalised to LF by the reader
        return True
    if 0xD800 <= cp <= 0xDFFF or 0xFDD0 <= cp <= 0xFDEF:
        return True
    return (cp & 0xFFFE) == 0xFFFE


def esc(value, quote=False) -> str:
    s = str(value)
    out = []
    for ch in s:
        cp = ord(ch)
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif quote and ch == '"':
            out.append("&quot;")
        elif needs_reference(cp):
            out.append(f"&#x{cp:X};")
        else:
            out.append(ch)
    return "".join(out)


def attrs(a) -> str:
    if not a:
        return ""
    return "".join(f' {k}="{esc(v, True)}"' for k, v in a.items() if v is not None)


def el(tag, text=None, a=None) -> str:
    """<tag a...>text</tag> with text escaped; an empty element when text is None."""
    if text is None:
        return f"<{tag}{attrs(a)}/>"
    return f"<{tag}{attrs(a)}>{esc(text)}</{tag}>"


def raw(tag, inner, a=None) -> str:
    """<tag>inner</tag> where inner is already XML."""
    return f"<{tag}{attrs(a)}>{inner}</{tag}>"


def boolean(v: bool) -> str:
    return "true" if v else "false"


def envelope(body: str, header: str = "", declaration=True) -> str:
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (('<?xml version="1.0" encoding="utf-8"?>' if declaration else "") +
            f'<s:Envelope xmlns:s="{NS_SOAP}">{head}<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            f' xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>')


def fault(code: str, message: str, faultcode_ns: str = NS_T, extra_detail: str = "") -> str:
    """A SOAP 1.1 fault shaped like Exchange's (faultcode a:Code, detail e:ResponseCode/e:Message)."""
    body = (f"<s:Fault><faultcode xmlns:a=\"{faultcode_ns}\">a:{esc(code)}</faultcode>"
            f"<faultstring xml:lang=\"en-US\">{esc(message)}</faultstring>"
            f"<detail><e:ResponseCode xmlns:e=\"{NS_E}\">{esc(code)}</e:ResponseCode>"
            f"<e:Message xmlns:e=\"{NS_E}\">{esc(message)}</e:Message>{extra_detail}</detail></s:Fault>")
    return envelope(body)
