#!/usr/bin/env bash
# ctest entry: start the test OAuth2 server and a fake Graph server that checks tokens by
# introspection at it, in a fresh temp dir; run Microsoft's Graph client against the fake
# (reference/graph_client_check.mjs); stop both. `selftest` runs the fake's own node tests.
#
#   run_reference.sh msgraph|selftest
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
what=${1:?usage: run_reference.sh msgraph|selftest}
if [[ $what == selftest ]]; then
  exec node --test "$HERE/tests/"
fi
[[ $what == msgraph ]] || { echo "usage: run_reference.sh msgraph|selftest" >&2; exit 2; }
state=$(mktemp -d "${TMPDIR:-/tmp}/mb-graph-ref-XXXXXX")
cleanup() {
  "$HERE/../graph.sh" stop "$state" >/dev/null 2>&1 || true
  "$HERE/../oauth2.sh" stop "$state" >/dev/null 2>&1 || true
  if [[ -z ${MB_KEEP_TESTBED:-} ]]; then rm -rf -- "$state"; else echo "kept $state" >&2; fi
}
trap cleanup EXIT
# Both servers exit on their own if this script dies without cleaning up.
oauth2_env=$(MB_OAUTH2_EXIT_WITH_PID=$$ "$HERE/../oauth2.sh" start "$state" | tail -n1)
introspect=$(sed -n 's/^OAUTH2_INTROSPECT_URL_FOR_DOVECOT=//p' "$oauth2_env")
MB_GRAPH_EXIT_WITH_PID=$$ MB_GRAPH_OAUTH2_INTROSPECT_URL=$introspect \
  "$HERE/../graph.sh" start "$state" >/dev/null
OAUTH2_ENV=$oauth2_env "$HERE/../graph.sh" reference-check "$state"
