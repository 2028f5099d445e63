"""POX Autodiscover (MS-OXDSCLI): request schema .../outlook/requestschema/2006, response
.../outlook/responseschema/2006a with EXCH and EXPR protocols and the EwsUrl; redirectAddr /
redirectUrl and a redirect loop when configured (config["autodiscover"], changeable at run time
through the control API)."""
import time
import uuid

import defusedxml.ElementTree as SafeET

from .xmlout import el, esc

NS_REQ = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
NS_RESP_A = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
NS_RESP = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"


def _error(code, message):
    now = time.strftime("%H:%M:%S")
    return (f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{NS_RESP}"><Response>'
            f'<Error Time="{now}" Id="{uuid.uuid4().int % 10**10}"><ErrorCode>{code}</ErrorCode>'
            f"<Message>{esc(message)}</Message><DebugData /></Error></Response></Autodiscover>")


def _account(inner):
    return (f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{NS_RESP}">'
            f'<Response xmlns="{NS_RESP_A}">{inner}</Response></Autodiscover>')


def respond(server, user, method, body):
    """(HTTP status, XML). Errors in the Autodiscover error format with HTTP 200, as Exchange does."""
    if method != "POST":
        return 200, _error(600, "Invalid Request")
    try:
        root = SafeET.fromstring(body)
    except Exception:
        return 200, _error(600, "Invalid Request")
    if root.tag != f"{{{NS_REQ}}}Autodiscover":
        return 200, _error(600, "Invalid Request")
    req = root.find(f"{{{NS_REQ}}}Request")
    address = (req.findtext(f"{{{NS_REQ}}}EMailAddress") if req is not None else None) or ""
    schema = (req.findtext(f"{{{NS_REQ}}}AcceptableResponseSchema") if req is not None else None) or ""
    if schema.strip() != NS_RESP_A:
        return 200, _error(601, "Provider is not available for the requested schema.")
    address = address.strip()
    cfg = server.config.get("autodiscover", {})
    mode = cfg.get("mode", "normal")
    if mode == "loop":
        # A redirect to the same URL (or address) again and again: clients must give up.
        return 200, _account("<Account><AccountType>email</AccountType><Action>redirectUrl"
                             f"</Action>{el('RedirectUrl', server.config['autodiscover_url'])}</Account>")
    if mode == "redirect_addr" and cfg.get("to") and address.lower() != cfg["to"].lower():
        return 200, _account("<Account><AccountType>email</AccountType><Action>redirectAddr</Action>"
                             f"{el('RedirectAddr', cfg['to'])}</Account>")
    if mode == "redirect_url" and cfg.get("to"):
        return 200, _account("<Account><AccountType>email</AccountType><Action>redirectUrl</Action>"
                             f"{el('RedirectUrl', cfg['to'])}</Account>")
    mbx = server.store.mailbox_for(address)
    if mbx is None:
        return 200, _error(500, "The email address can't be found.")
    if not server.auth_may_discover(user, mbx):
        return 200, _error(500, "The email address can't be found.")
    ews_url = server.config["ews_url"]
    host = ews_url.split("/")[2]
    legacy_dn = f"/o={server.config['domain']}/ou=Exchange Administrative Group/cn=Recipients/cn={mbx.user}"
    user_xml = ("<User>" + el("DisplayName", mbx.display_name) + el("LegacyDN", legacy_dn)
                + el("AutoDiscoverSMTPAddress", mbx.address) + el("DeploymentId", str(uuid.uuid5(
                    uuid.NAMESPACE_DNS, server.config["dns_domain"]))) + "</User>")
    major = {"Exchange2007_SP1": "72", "Exchange2010": "738", "Exchange2010_SP1": "738", "Exchange2010_SP2": "738",
             "Exchange2013": "73C", "Exchange2013_SP1": "73C"}[server.config["server_version"]]
    server_version = (major + "18880")[:8]
    exch = ("<Protocol><Type>EXCH</Type>" + el("Server", f"exch01.{server.config['dns_domain']}")
            + el("ServerDN", "/o=" + server.config["domain"] + "/cn=Servers/cn=EXCH01") + el("ServerVersion",
            server_version) + el("AuthPackage", "Ntlm") + el("ASUrl", ews_url) + el("EwsUrl", ews_url)
            + el("EmwsUrl", ews_url) + el("EcpUrl", f"https://{host}/ecp/") + "</Protocol>")
    expr = ("<Protocol><Type>EXPR</Type>" + el("Server", host.split(":")[0]) + el("SSL", "On")
            + el("AuthPackage", "Ntlm") + el("ASUrl", ews_url) + el("EwsUrl", ews_url) + el("EmwsUrl", ews_url)
            + "</Protocol>")
    account = ("<Account><AccountType>email</AccountType><Action>settings</Action>"
               "<MicrosoftOnline>False</MicrosoftOnline>" + exch + expr + "</Account>")
    return 200, _account(user_xml + account)
