#pragma once
// Shared by the EWS response tests: responses wrapped the way Exchange writes them.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "protocol/ews/responses.hpp"

namespace mailbroker::ews::test {

using namespace std::chrono;

inline const std::string fffd = "\xEF\xBF\xBD";

inline time_point utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

// A response as Exchange 2016 (schema V2017_07_11) writes it: ServerVersionInfo in the
// header, xsi/xsd declared on the Body, m: and t: declared on the operation element.
inline std::string envelope_of(const std::string& operation_xml) {
  return R"(<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Header>
    <h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" xmlns="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>
  </s:Header>
  <s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
)" + operation_xml + R"(
  </s:Body>
</s:Envelope>)";
}

inline std::string operation(const std::string& name, const std::string& messages) {
  return "<m:" + name +
         " xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" "
         "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"><m:ResponseMessages>" +
         messages + "</m:ResponseMessages></m:" + name + ">";
}

inline soap_reply parse_ok(const std::string& body) {
  auto r = parse_envelope(body, 200);
  EXPECT_TRUE(r) << r.err().message;
  if (!r) return {};
  return std::move(r.value());
}

}  // namespace mailbroker::ews::test
