#pragma once
// Directories that hold the daemon's socket (and its state) must be its own: if another
// user could create or write them, that user could replace the socket with a listener
// of its own and collect the passwords bots send (issue #10: socket squatting).
#include <string>
#include <sys/types.h>

#include "common/error.hpp"

namespace mailbroker::daemon {

// Creates `dir` (and missing parents, mode `mode`) when absent, then checks:
//  - `dir` is a directory (not a symlink), owned by this process's euid, and neither
//    group- nor world-writable;
//  - every ancestor is owned by root or the euid, and is not group/world-writable
//    unless it has the sticky bit (as /tmp does).
// Errors: failed_precondition naming the directory, what is wrong and the fix.
error prepare_private_directory(const std::string& dir, mode_t mode, std::string_view what);

}  // namespace mailbroker::daemon
