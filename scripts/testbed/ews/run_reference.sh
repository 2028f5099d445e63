#!/usr/bin/env bash
# ctest entry: start a fake EWS server in a fresh temp dir, run one reference client
# against it (exchangelib, ewsjs, or selftest = the fake's own Python tests), stop it.
#
#   run_reference.sh exchangelib|ewsjs|selftest
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
client=${1:?usage: run_reference.sh exchangelib|ewsjs|selftest}
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=python3
if [[ $client == selftest ]]; then
  # Unit tests of the fake's NTLM (vs MS-NLMP vectors and python3-ntlm-auth) and its strictness
  # over HTTP (it starts its own fake). The ntlm-auth client needs MD4 from the legacy provider.
  cd "$HERE"
  exec env OPENSSL_CONF="$HERE/openssl-legacy.cnf" "$PYTHON" -m unittest -v tests.test_ntlm tests.test_strict
fi
state=$(mktemp -d "${TMPDIR:-/tmp}/mb-ews-ref-XXXXXX")
cleanup() {
  "$HERE/../ews.sh" stop "$state" >/dev/null 2>&1 || true
  if [[ -z ${MB_KEEP_TESTBED:-} ]]; then rm -rf -- "$state"; else echo "kept $state" >&2; fi
}
trap cleanup EXIT
# The fake exits on its own if this script dies without cleaning up.
MB_EWS_EXIT_WITH_PID=$$ "$HERE/../ews.sh" start "$state" >/dev/null
"$HERE/../ews.sh" reference-check "$state" "$client"
