#pragma once
// mailbroker_denials_total{permission}: requests the trust policy refused.
#include <string_view>

namespace mailbroker::metrics {

// Counts one refused request. `permission` names what was missing, from a small fixed
// set (e.g. "session.connect", "vault.write"): it becomes a label value, so never pass
// anything a client chose (a session name, a principal). Thread-safe; one map lookup
// under a mutex (denials are rare).
void count_denial(std::string_view permission);

// Registers the family so a scrape shows it before the first denial. Idempotent.
void register_denials();

}  // namespace mailbroker::metrics
