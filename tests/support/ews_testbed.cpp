#include "support/ews_testbed.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "support/dovecot_testbed.hpp"  // run_command, source_dir

namespace mailbroker::testing {
namespace {

std::string script_path() { return source_dir() + "/scripts/testbed/ews.sh"; }

// Single-quoted for the shell (paths, folder names).
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

ews_testbed::ews_testbed(std::string script_env) {
  std::string templ = (std::filesystem::temp_directory_path() / "mb-ews-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  state_dir_ = templ;
  // The fake exits by itself when this test process dies without running the destructor.
  run_command("MB_EWS_EXIT_WITH_PID=" + std::to_string(::getpid()) + " " + script_env + " " + script_path() +
              " start " + state_dir_);
  running_ = true;
  std::ifstream in(state_dir_ + "/ews.env");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (auto eq = line.find('='); eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (!env_.count("EWS_URL") || !env_.count("CONTROL_URL")) throw std::runtime_error("ews.env lacks EWS_URL/CONTROL_URL");
}

ews_testbed::~ews_testbed() {
  try {
    if (running_) run_command(script_path() + " stop " + state_dir_);
  } catch (...) {
  }
  if (std::getenv("MB_KEEP_TESTBED") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
}

std::string ews_testbed::password(const std::string& user) const {
  std::string key;
  for (char c : user) key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return env_.at(key + "_PASSWORD");
}

std::string ews_testbed::control(const std::string& method, const std::string& path_and_query) const {
  // -f: an HTTP error fails run_command, whose exception carries curl's message.
  return run_command("curl -fsS --max-time 30 -X " + method + " " + quoted(control_url() + "/" + path_and_query));
}

std::string ews_testbed::deliver(const std::string& user, const std::string& file, const std::string& folder) const {
  return run_command(script_path() + " deliver " + state_dir_ + " " + quoted(user) + " " + quoted(file) + " " +
                     quoted(folder));
}

std::string ews_testbed::requests() const { return control("GET", "requests"); }

std::map<std::string, long> ews_testbed::counters() const {
  std::map<std::string, long> out;
  // In a variable: a range-for over items() of a temporary dangles (STYLE.md).
  const nlohmann::json parsed = nlohmann::json::parse(control("GET", "counters"));
  for (const auto& [key, value] : parsed.items()) out[key] = value.get<long>();
  return out;
}

void ews_testbed::set_busy(int count, int backoff_ms) const {
  control("POST", "busy?count=" + std::to_string(count) + "&backoff_ms=" + std::to_string(backoff_ms));
}

void ews_testbed::set_delay(int ms) const { control("POST", "delay?ms=" + std::to_string(ms)); }

void ews_testbed::inject(const std::string& action, int seconds) const {
  control("POST", "inject?action=" + action + "&seconds=" + std::to_string(seconds));
}

void ews_testbed::set_autodiscover(const std::string& mode, const std::string& to) const {
  // `to` is an address or URL from the test itself; the characters below need no encoding there
  // except ':' '/' '@', which the control API's query parser accepts as they are.
  control("POST", "autodiscover?mode=" + mode + (to.empty() ? "" : "&to=" + to));
}

std::string ews_testbed::mint_token(const std::string& user) const {
  return nlohmann::json::parse(control("POST", "token?user=" + user)).at("access_token").get<std::string>();
}

std::string ews_testbed::sent() const { return control("GET", "sent"); }

void ews_testbed::reset() const { control("POST", "reset"); }

}  // namespace mailbroker::testing
