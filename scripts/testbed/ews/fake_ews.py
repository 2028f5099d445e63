#!/usr/bin/python3
"""A strict fake Exchange Web Services server for mailbroker's tests (issue 11).

  fake_ews.py --config CONFIG.json

CONFIG (written by ../ews.sh) names the users and passwords, the domain, the TLS certificate,
the auth schemes, impersonation and delegate grants and the ports. The server prints one line
    READY ews_port=N control_port=M
on stdout when both listeners are up; SIGTERM stops it. See scripts/testbed/README.md.
"""
import argparse
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ewsfake.control import ControlServer  # noqa: E402
from ewsfake.httpd import EwsServer, make_ews_listener  # noqa: E402
from ewsfake.versions import BUILDS  # noqa: E402

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def load_config(path):
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    for key in ("users", "domain", "dns_domain", "mail_domain", "auth", "tls_cert", "tls_key"):
        if key not in cfg:
            raise SystemExit(f"fake_ews: config {path} lacks '{key}'")
    if cfg.get("host", "127.0.0.1") not in LOOPBACK:
        raise SystemExit("fake_ews: host must be a loopback address (127.0.0.1 or ::1)")
    cfg.setdefault("server_version", "Exchange2013_SP1")
    if cfg["server_version"] not in BUILDS:
        raise SystemExit(f"fake_ews: server_version must be one of {', '.join(BUILDS)}")
    bad = [a for a in cfg["auth"] if a not in ("basic", "ntlm", "bearer")]
    if bad or not cfg["auth"]:
        raise SystemExit(f"fake_ews: auth must list basic, ntlm and/or bearer (got {cfg['auth']})")
    cfg.setdefault("minute_seconds", 60)
    cfg.setdefault("streaming_keepalive_seconds", 40)
    cfg.setdefault("autodiscover", {"mode": "normal"})
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    cfg = load_config(args.config)
    cfg["verbose"] = args.verbose
    host = cfg.get("host", "127.0.0.1")
    ews = EwsServer(cfg)
    listener = make_ews_listener(ews, host, int(cfg.get("ews_port", 0)), cfg["tls_cert"], cfg["tls_key"])
    control = ControlServer((host, int(cfg.get("control_port", 0))), ews)
    ews_port, control_port = listener.server_address[1], control.server_address[1]
    public_host = cfg.get("public_host", host)
    cfg["ews_url"] = f"https://{public_host}:{ews_port}/EWS/Exchange.asmx"
    cfg["autodiscover_url"] = f"https://{public_host}:{ews_port}/autodiscover/autodiscover.xml"
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in (listener, control)]
    for t in threads:
        t.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"READY ews_port={ews_port} control_port={control_port}", flush=True)
    parent = cfg.get("exit_with_pid")
    while not stop.wait(0.5):
        if parent and not os.path.exists(f"/proc/{parent}"):
            break
    listener.shutdown()
    control.shutdown()


if __name__ == "__main__":
    main()
