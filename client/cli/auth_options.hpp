#pragma once
// Builds a SessionSpec's AuthSpec from the command line; shared by `connect` and
// `authorize`, so a session is authorized with exactly the settings it connects with.
//
//   --oauth2-connection NAME                        -> oauth2_managed
//   --oauth2-client-id ID [--oauth2-grant authorization_code]
//                                                   -> oauth2_authorization_code
//   --oauth2-client-id ID --oauth2-grant password   -> oauth2_password (the password
//        sources give the user's password, --oauth2-client-secret-* the client's)
//   --oauth2-client-id ID --oauth2-grant implicit   -> oauth2_implicit, which the daemon
//        refuses (INVALID_ARGUMENT naming the grants to use instead)
//   --oauth2-client-id ID                           -> oauth2_client_credentials
//   otherwise                                       -> basic (user + password source)
#include <optional>
#include <string>
#include <string_view>

#include "client/cli/commands.hpp"

namespace mailbroker::cli {

namespace pb = ::mailbroker::v1;

// The client secret's sources for the password grant: PREFIX-env, -file, -daemon-env,
// -daemon-file, -vault (no -stdin: the user's password may come from there).
inline constexpr std::string_view client_secret_prefix = "--oauth2-client-secret";
inline constexpr std::string_view client_secret_on_argv_refusal =
    "--oauth2-client-secret is refused: a secret on the command line is visible to other users "
    "(ps, /proc) and lands in shell history. Use one of --oauth2-client-secret-env VAR, "
    "--oauth2-client-secret-file PATH, --oauth2-client-secret-daemon-env VAR, "
    "--oauth2-client-secret-daemon-file PATH or --oauth2-client-secret-vault NAME.";

// Fills `auth`. `user` may be empty only for `authorize` (managed shared connections).
// Reads the password source last. Returns an exit code after a usage error, nullopt on
// success.
std::optional<int> fill_auth(const invocation& inv, std::string_view command, const std::string& user,
                             pb::AuthSpec* auth);

}  // namespace mailbroker::cli
