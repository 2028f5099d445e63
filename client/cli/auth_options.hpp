#pragma once
// Builds a SessionSpec's AuthSpec from the command line; shared by `connect` and
// `authorize`, so a session is authorized with exactly the settings it connects with.
//
//   --oauth2-connection NAME                        -> oauth2_managed
//   --oauth2-client-id ID [--oauth2-grant authorization_code]
//                                                   -> oauth2_authorization_code
//   --oauth2-client-id ID                           -> oauth2_client_credentials
//   otherwise                                       -> basic (user + password source)
#include <optional>
#include <string>
#include <string_view>

#include "client/cli/commands.hpp"

namespace mailbroker::cli {

namespace pb = ::mailbroker::v1;

// Fills `auth`. `user` may be empty only for `authorize` (managed shared connections).
// Reads the password source last. Returns an exit code after a usage error, nullopt on
// success.
std::optional<int> fill_auth(const invocation& inv, std::string_view command, const std::string& user,
                             pb::AuthSpec* auth);

}  // namespace mailbroker::cli
