#pragma once
// The EWS backend (Exchange Web Services): messages named by item id + change key.
#include "mailbox/backend.hpp"

namespace mailbroker::mailbox {

class ews_backend final : public backend {
 public:
  std::string_view protocol_name() const override { return "EWS"; }
};

}  // namespace mailbroker::mailbox
