#pragma once
// The --help texts. Kept apart from the option tables on purpose: help is prose for
// people (grouping, defaults, why), the tables are for the parser.
#include <string>
#include <string_view>

namespace mailbroker::cli {

std::string global_help();

// Help of one subcommand; empty if there is no such subcommand.
std::string command_help(std::string_view command);

}  // namespace mailbroker::cli
