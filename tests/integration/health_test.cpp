// Ops: the standard grpc.health.v1.Health service answers for the daemon and for the
// SessionBroker service, on the same unix socket the bots use.
#include <gtest/gtest.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

using health = ::grpc::health::v1::HealthCheckResponse;

class health_check : public broker_fixture {
 protected:
  grpc::Status check(const std::string& service, health* response) {
    auto stub = ::grpc::health::v1::Health::NewStub(client::make_channel(server_->unix_target()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ::grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    return stub->Check(&context, request, response);
  }
};

TEST_F(health_check, ServingForTheDaemonAndTheBrokerService) {
  start_broker();
  health response;
  ASSERT_TRUE(check("", &response).ok());
  EXPECT_EQ(response.status(), health::SERVING);
  ASSERT_TRUE(check("mailbroker.v1.SessionBroker", &response).ok());
  EXPECT_EQ(response.status(), health::SERVING);
  EXPECT_EQ(check("no.such.Service", &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace mailbroker::testing
