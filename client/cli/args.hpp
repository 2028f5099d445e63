#pragma once
// A deliberately tiny argument parser: long options (`--name VALUE`, `--name=VALUE`),
// `-h`, `--` and positionals, with global options accepted on either side of the
// subcommand. Nothing here knows what the options mean.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailbroker::cli {

struct option_def {
  std::string_view name;        // "--host"
  std::string_view value_name;  // "HOST"; empty for a flag
  // Non-empty: the option is only recognised in order to refuse it with this message
  // (e.g. --password), which is kinder than "unknown option".
  std::string_view refusal = {};

  bool takes_value() const { return !value_name.empty(); }
};

using option_table = std::span<const option_def>;

struct parsed_args {
  std::string command;
  std::vector<std::string> positionals;
  std::vector<std::pair<std::string, std::string>> options;  // in command-line order
  bool help = false;
  // The first usage error, empty if none. Parsing goes on after an error so that
  // `--help` anywhere still wins over a typo elsewhere.
  std::string error;

  bool has(std::string_view name) const;
  std::size_t count(std::string_view name) const;
  // The last occurrence wins, as with most Unix tools.
  std::optional<std::string> value(std::string_view name) const;
  // Every occurrence, in command-line order (repeatable options such as --to).
  std::vector<std::string> values(std::string_view name) const;
};

// `command_options(name)` gives a subcommand's own options, or nullopt if there is no
// such subcommand. Error messages never repeat an option's value: it might be a secret.
parsed_args parse_args(std::span<const std::string_view> args, option_table globals,
                       const std::function<std::optional<option_table>(std::string_view)>& command_options);

// Whole decimal number in 0..max; nullopt for anything else (signs, spaces, overflow).
std::optional<std::uint32_t> parse_uint(std::string_view text, std::uint32_t max);

// Positive seconds, fractions allowed ("2", "0.5"); nullopt if malformed, not positive
// or absurdly long.
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text);

}  // namespace mailbroker::cli
