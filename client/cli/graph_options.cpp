#include "client/cli/graph_options.hpp"

#include <limits>

namespace mailbroker::cli {
namespace {

error usage(std::string message) { return {errc::invalid_argument, std::move(message)}; }

// An optional whole number; false after setting `e`.
bool read_number(const parsed_args& args, std::string_view name, std::uint32_t& out, error& e) {
  const auto text = args.value(name);
  if (!text) return true;
  constexpr auto max = std::numeric_limits<std::uint32_t>::max();
  const auto parsed = parse_uint(*text, max);
  if (!parsed) {
    e = usage(std::string(name) + ": '" + *text + "' is not a whole number in 0.." + std::to_string(max));
    return false;
  }
  out = *parsed;
  return true;
}

}  // namespace

result<std::optional<graph_flags>> graph_flags_from_args(const parsed_args& args, bool graph) {
  if (!graph) {
    for (const char* name : graph_flag_names) {
      if (args.has(name)) return usage(std::string(name) + " needs --protocol graph");
    }
    return std::optional<graph_flags>{};
  }
  if (args.has("--host")) return usage("--host: Graph sessions take the host from --graph-cloud (or --graph-base-url)");
  if (args.has("--port")) return usage("--port: Graph sessions take the port from --graph-cloud (or --graph-base-url)");
  if (args.has("--smtp-host")) return usage("--smtp-host: Graph sessions send through Graph (no SMTP leg)");
  if (!args.has("--oauth2-client-id") && !args.has("--oauth2-connection")) {
    return usage("--protocol graph takes OAuth2 tokens only: give --oauth2-client-id ID or --oauth2-connection NAME "
                 "(no password login)");
  }
  graph_flags flags;
  if (const auto cloud = args.value("--graph-cloud")) {
    if (*cloud == "global") flags.cloud = graph_cloud_flag::global;
    else if (*cloud == "us-gcc-high") flags.cloud = graph_cloud_flag::us_gcc_high;
    else if (*cloud == "custom") flags.cloud = graph_cloud_flag::custom;
    else return usage("--graph-cloud: '" + *cloud + "' is not one of global, us-gcc-high, custom");
  }
  if (const auto base_url = args.value("--graph-base-url")) {
    if (flags.cloud != graph_cloud_flag::unspecified && flags.cloud != graph_cloud_flag::custom) {
      return usage("--graph-base-url is only for --graph-cloud custom (global and us-gcc-high have fixed URLs)");
    }
    flags.cloud = graph_cloud_flag::custom;
    flags.base_url = *base_url;
  } else if (flags.cloud == graph_cloud_flag::custom) {
    return usage("--graph-cloud custom needs --graph-base-url URL");
  }
  flags.mailbox = args.value("--graph-mailbox").value_or("");
  error e;
  if (!read_number(args, "--graph-timeout", flags.timeout_seconds, e) ||
      !read_number(args, "--graph-max-requests", flags.max_requests, e)) {
    return e;
  }
  return std::optional<graph_flags>{std::move(flags)};
}

}  // namespace mailbroker::cli
