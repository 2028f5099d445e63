#pragma once
// Who is calling: the identity every gRPC call carries (issue #10's trust model).
//  - a unix-socket peer: uid/gid/groups from the kernel (SO_PEERCRED), never from the
//    caller's own words;
//  - a TCP peer with a verified TLS client certificate: its identity (SAN URI, SAN DNS
//    name or subject CN, as configured);
//  - a TCP peer presenting a configured bearer token: the token's name;
//  - a TCP peer on an explicitly insecure loopback listener with neither: anonymous.
// Pure data; how it is learned lives in daemon/peer_identity.
#include <cstdint>
#include <string>
#include <vector>

namespace mailbroker::trust {

struct principal {
  enum class kind { unix_peer, certificate, token, anonymous_tcp };
  kind k = kind::anonymous_tcp;
  std::uint32_t uid = 0;               // unix_peer
  std::uint32_t gid = 0;               // unix_peer: primary group
  std::vector<std::uint32_t> groups;   // unix_peer: supplementary groups (incl. gid)
  std::uint32_t pid = 0;               // unix_peer: for the audit log only
  std::string name;                    // certificate identity or token name

  // Stable identity, used for lease ownership and in the audit log:
  // "uid:1000", "cert:spiffe://corp/bot-7", "token:ci-runner", "tcp:anonymous".
  std::string id() const;
};

}  // namespace mailbroker::trust
