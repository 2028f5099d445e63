# Shared by the testbed scripts (sourced, not run).

# N random characters from [A-Za-z0-9]: safe unquoted in IMAP LOGIN, URLs (Dovecot's
# introspection_url carries one), env files, shells and HTTP basic auth. Plain bash +
# od because starting python3 costs ~0.3 s per call on small CI VMs. Bytes >= 248 are
# skipped so the modulo does not bias the distribution.
random_alnum() {
  local n=$1
  local alphabet=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789
  local out="" b
  while ((${#out} < n)); do
    for b in $(od -An -v -tu1 -N64 /dev/urandom); do
      if ((b < 248)); then out+=${alphabet:b%62:1}; fi
    done
  done
  printf '%s\n' "${out:0:n}"
}
