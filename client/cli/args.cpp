#include "client/cli/args.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace mailbroker::cli {
namespace {

const option_def* find_option(option_table table, std::string_view name) {
  auto it = std::find_if(table.begin(), table.end(), [&](const option_def& d) { return d.name == name; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

bool parsed_args::has(std::string_view name) const { return count(name) > 0; }

std::size_t parsed_args::count(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(options.begin(), options.end(), [&](const auto& o) { return o.first == name; }));
}

std::optional<std::string> parsed_args::value(std::string_view name) const {
  for (auto it = options.rbegin(); it != options.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::nullopt;
}

std::vector<std::string> parsed_args::values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : options) {
    if (n == name) out.push_back(v);
  }
  return out;
}

parsed_args parse_args(std::span<const std::string_view> args, option_table globals,
                       const std::function<std::optional<option_table>(std::string_view)>& command_options) {
  parsed_args out;
  std::optional<option_table> command_table;
  bool options_ended = false;
  auto fail = [&](std::string message) {
    if (out.error.empty()) out.error = std::move(message);
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view token = args[i];
    if (!options_ended && token == "--") {
      options_ended = true;
      continue;
    }
    const bool is_option = !options_ended && token.size() > 1 && token.front() == '-';
    if (!is_option) {
      if (out.command.empty()) {
        out.command = std::string(token);
        command_table = command_options(token);
        if (!command_table) fail("unknown command '" + out.command + "'");
      } else {
        out.positionals.emplace_back(token);
      }
      continue;
    }

    std::string_view name = token;
    std::optional<std::string_view> inline_value;
    if (name.starts_with("--")) {
      if (auto eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    }
    if (name == "-h") name = "--help";

    const option_def* def = find_option(globals, name);
    if (def == nullptr && command_table) def = find_option(*command_table, name);
    if (def == nullptr) {
      if (out.command.empty()) {
        fail("unknown option '" + std::string(name) + "' (subcommand options go after the subcommand)");
      } else {
        fail("unknown option '" + std::string(name) + "' for '" + out.command + "'");
      }
      continue;
    }

    if (!def->refusal.empty()) {
      // Swallow the value too, so a refused option's value (a password) can never be
      // mistaken for a positional argument and echoed back in another message.
      if (def->takes_value() && !inline_value && i + 1 < args.size()) ++i;
      fail(std::string(def->refusal));
      continue;
    }

    std::string value;
    if (def->takes_value()) {
      if (inline_value) {
        value = std::string(*inline_value);
      } else if (i + 1 < args.size()) {
        value = std::string(args[++i]);
      } else {
        fail("option '" + std::string(name) + "' needs a value (" + std::string(def->value_name) + ")");
        continue;
      }
    } else if (inline_value) {
      fail("option '" + std::string(name) + "' takes no value");
      continue;
    }
    if (name == "--help") out.help = true;
    out.options.emplace_back(std::string(name), std::move(value));
  }
  return out;
}

std::optional<std::uint32_t> parse_uint(std::string_view text, std::uint32_t max) {
  std::uint32_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value > max) return std::nullopt;
  return value;
}

std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) {
  // A year is far beyond any sensible deadline and keeps the arithmetic well away from overflow.
  constexpr double max_seconds = 365.0 * 24 * 3600;
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  if (value <= 0 || value > max_seconds) return std::nullopt;
  const auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(value * 1000)));
  if (ms.count() == 0) return std::nullopt;
  return ms;
}

}  // namespace mailbroker::cli
