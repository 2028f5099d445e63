#pragma once
// The Graph leg of `mailbroker connect` / `test` (--protocol graph, --graph-*): which
// flags go with which protocol, and the leg's values. Pure (no gRPC, no I/O), so the unit
// tests can run it on parsed arguments; the daemon checks the ranges and the rest.
#include <cstdint>
#include <optional>
#include <string>

#include "client/cli/args.hpp"
#include "common/error.hpp"

namespace mailbroker::cli {

enum class graph_cloud_flag { unspecified, global, us_gcc_high, custom };

struct graph_flags {
  graph_cloud_flag cloud = graph_cloud_flag::unspecified;  // --graph-base-url implies custom
  std::string base_url;
  std::string mailbox;               // "" = /me
  std::uint32_t timeout_seconds = 0;  // 0 = the daemon's default (30)
  std::uint32_t max_requests = 0;     // 0 = the daemon's default (4)
};

// The --graph-* flags that take a value.
inline constexpr const char* graph_flag_names[] = {"--graph-mailbox", "--graph-cloud", "--graph-base-url",
                                                  "--graph-timeout", "--graph-max-requests"};

// For `graph` false: nullopt, or an error when a --graph-* flag is given ("--graph-cloud
// needs --protocol graph"). For `graph` true: the leg, or an error naming the flag:
// --host, --port or --smtp-host (the host comes from the cloud; Graph sends itself), no
// --oauth2-client-id / --oauth2-connection (Graph takes OAuth2 tokens only), an unknown
// --graph-cloud, --graph-base-url with a cloud other than custom, custom without
// --graph-base-url, a timeout or request count that is not a whole number.
// Errors: invalid_argument; the message is the usage error to print (no values echoed
// except --graph-cloud's and the numbers', which hold no secret).
result<std::optional<graph_flags>> graph_flags_from_args(const parsed_args& args, bool graph);

}  // namespace mailbroker::cli
