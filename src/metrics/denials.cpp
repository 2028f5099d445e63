#include "metrics/denials.hpp"

#include "metrics/metrics.hpp"

namespace mailbroker::metrics {
namespace {
family<counter>& denials() {
  static auto& f = process_registry().counter_family(
      "mailbroker_denials_total", "Requests refused by the trust policy, by the permission that was missing.",
      {"permission"});
  return f;
}
}  // namespace

void count_denial(std::string_view permission) { denials().with({permission}).inc(); }
void register_denials() { denials(); }

}  // namespace mailbroker::metrics
