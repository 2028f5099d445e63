#include "daemon/request_parse_errors.hpp"

#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

namespace mailbroker::daemon {
namespace {

// The field protobuf last reported as invalid UTF-8 on this thread, taken by the
// interceptor at the POST_RECV_MESSAGE that follows the failed parse.
thread_local std::string invalid_utf8_field;

std::string take_invalid_utf8_field() { return std::exchange(invalid_utf8_field, {}); }

// protobuf 3.21 (wire_format_lite.cc, PrintUTF8ErrorLog): "String field 'pkg.Msg.field'
// contains invalid UTF-8 data when parsing a protocol buffer. ..."
bool note_invalid_utf8(const std::string& message) {
  constexpr std::string_view prefix = "String field '";
  if (message.rfind(prefix, 0) != 0 || message.find("invalid UTF-8 data when parsing") == std::string::npos) {
    return false;
  }
  const auto end = message.find('\'', prefix.size());
  if (end == std::string::npos) return false;
  invalid_utf8_field = message.substr(prefix.size(), end - prefix.size());
  return true;
}

void log_through_spdlog(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  // A client's bad request: the interceptor logs it once, with the method.
  if (note_invalid_utf8(message)) {
    spdlog::debug("protobuf: {} ({}:{})", message, filename, line);
    return;
  }
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO: spdlog::info("protobuf: {} ({}:{})", message, filename, line); break;
    case google::protobuf::LOGLEVEL_WARNING: spdlog::warn("protobuf: {} ({}:{})", message, filename, line); break;
    case google::protobuf::LOGLEVEL_ERROR: spdlog::error("protobuf: {} ({}:{})", message, filename, line); break;
    case google::protobuf::LOGLEVEL_FATAL: spdlog::critical("protobuf: {} ({}:{})", message, filename, line); break;
  }
}

class request_parse_interceptor : public grpc::experimental::Interceptor {
 public:
  explicit request_parse_interceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method() ? info->method() : "") {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(hook::POST_RECV_MESSAGE)) {
      std::string field = take_invalid_utf8_field();
      if (methods->GetRecvMessage() == nullptr) {
        unparsed_ = true;
        field_ = std::move(field);
      }
    }
    if (unparsed_ && methods->QueryInterceptionHookPoint(hook::PRE_SEND_STATUS)) {
      const auto status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED && status.error_message().empty()) {
        std::string message = "request to " + method_ + " could not be parsed: ";
        message += field_.empty() ? "not a valid protobuf message of the method's request type, or a string field "
                                    "that is not valid UTF-8"
                                  : "string field '" + field_ +
                                        "' is not valid UTF-8 (string fields must be UTF-8 text)";
        spdlog::warn("rejected a request: {}", message);
        methods->ModifySendStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message));
      }
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  bool unparsed_ = false;
  std::string field_;
};

class request_parse_interceptor_factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new request_parse_interceptor(info);
  }
};

}  // namespace

void install_protobuf_log_handler() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&log_through_spdlog); });
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> make_request_parse_interceptor_factory() {
  return std::make_unique<request_parse_interceptor_factory>();
}

}  // namespace mailbroker::daemon
