#pragma once
// Where `connect` gets the password. Never from argv: a command line is visible to
// every local user (ps, /proc/PID/cmdline) and ends up in shell history.
#include <string_view>

#include "client/broker_client.hpp"
#include "client/cli/args.hpp"
#include "common/error.hpp"

namespace mailbroker::cli {

namespace pb = ::mailbroker::v1;

// Shown when someone tries `--password VALUE`.
inline constexpr std::string_view password_on_argv_refusal =
    "--password is refused: a password on the command line is visible to other users "
    "(ps, /proc) and lands in shell history. Use one of --password-stdin, --password-env VAR, "
    "--password-file PATH, --password-daemon-env VAR, --password-daemon-file PATH or --password-vault NAME.";

// Builds the SecretRef from exactly one password source among `args`. CLI-side sources
// (stdin, env, file) are read now and sent inline; the daemon-side ones are sent as
// references for mailbrokerd to resolve. `user` only appears in the tty prompt.
// A failure is a usage error whose message never contains the secret.
result<pb::SecretRef> password_from_args(const parsed_args& args, std::string_view user);

// True when any password source is among `args` (optional secrets, e.g. public clients).
bool password_given(const parsed_args& args);

// The same for another family of options: PREFIX-stdin, PREFIX-env, PREFIX-file,
// PREFIX-daemon-env, PREFIX-daemon-file, PREFIX-vault (only those in the command's
// option table can appear), e.g. prefix "--smtp-password". `needed_by` starts the
// message when no source is given ("connect --smtp-user"); `stdin_offered` says
// whether that message lists PREFIX-stdin.
result<pb::SecretRef> secret_from_args(const parsed_args& args, std::string_view prefix, std::string_view user,
                                       std::string_view needed_by, bool stdin_offered);
bool secret_given(const parsed_args& args, std::string_view prefix);

// Shown when someone tries `--smtp-password VALUE`.
inline constexpr std::string_view smtp_password_on_argv_refusal =
    "--smtp-password is refused: a password on the command line is visible to other users "
    "(ps, /proc) and lands in shell history. Use one of --smtp-password-env VAR, --smtp-password-file PATH, "
    "--smtp-password-daemon-env VAR, --smtp-password-daemon-file PATH or --smtp-password-vault NAME.";

}  // namespace mailbroker::cli
