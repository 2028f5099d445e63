#include <cstdio>
#include "support/oauth2_testbed.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace mailbroker::testing {
namespace {

std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

}  // namespace

oauth2_testbed::oauth2_testbed(int access_ttl_seconds) {
  std::string templ = (std::filesystem::temp_directory_path() / "mb-oauth2-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  ::chmod(templ.c_str(), 0755);  // Dovecot's unprivileged processes read below it
  state_dir_ = templ;
  run_command("MB_OAUTH2_ACCESS_TTL=" + std::to_string(access_ttl_seconds) + " " + source_dir() +
              "/scripts/testbed/oauth2.sh start " + state_dir_ + "/oauth2");
  running_ = true;
  env_ = read_env_file(state_dir_ + "/oauth2/oauth2.env");
  if (!env_.count("OAUTH2_TOKEN_URL")) throw std::runtime_error("oauth2.env has no OAUTH2_TOKEN_URL");
  dovecot_ = std::make_unique<dovecot_testbed>("MB_TESTBED_OAUTH2_INTROSPECTION_URL=" +
                                               env_.at("OAUTH2_INTROSPECT_URL_FOR_DOVECOT"));
}

oauth2_testbed::~oauth2_testbed() {
  dovecot_.reset();
  try {
    if (running_) run_command(source_dir() + "/scripts/testbed/oauth2.sh stop " + state_dir_ + "/oauth2");
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(state_dir_, ec);
}

int oauth2_testbed::token_requests() {
  // {"token_requests_total":N,...}: token-endpoint requests of any grant and outcome.
  const std::string json = run_command(source_dir() + "/scripts/testbed/oauth2.sh stats " + state_dir_ + "/oauth2");
  std::smatch m;
  static const std::regex total(R"re("token_requests_total"\s*:\s*(\d+))re");
  if (std::regex_search(json, m, total)) return std::stoi(m[1]);
  throw std::runtime_error("unexpected stats: " + json);
}

int oauth2_testbed::stat(const std::string& name) {
  const std::string json = run_command(source_dir() + "/scripts/testbed/oauth2.sh stats " + state_dir_ + "/oauth2");
  std::string pattern;
  if (auto dot = name.find('.'); dot != std::string::npos) {
    // "token_requests.refresh_token": the key inside the named object (0 when absent).
    pattern = "\"" + name.substr(0, dot) + "\"\\s*:\\s*\\{[^}]*\"" + name.substr(dot + 1) + "\"\\s*:\\s*(\\d+)";
    std::smatch m;
    if (std::regex_search(json, m, std::regex(pattern))) return std::stoi(m[1]);
    return 0;
  }
  pattern = "\"" + name + "\"\\s*:\\s*(\\d+)";
  std::smatch m;
  if (std::regex_search(json, m, std::regex(pattern))) return std::stoi(m[1]);
  throw std::runtime_error("no " + name + " in stats: " + json);
}

std::thread oauth2_testbed::play_browser(const std::string& authorization_url) {
  const std::string jar = state_dir_ + "/jar-" + std::to_string(std::rand());
  const std::string command = "curl -sS -L --max-redirs 10 --cacert " + env_.at("OAUTH2_CA_FILE") + " -c " + jar +
                              " -b " + jar + " -o /dev/null '" + authorization_url + "'; rm -f " + jar;
  return std::thread([command] {
    try {
      run_command(command);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "play_browser: %s\n", e.what());  // the authorize() wait then times out
    }
  });
}

void oauth2_testbed::revoke_refresh_token(const std::string& refresh_token) {
  run_command("curl -fsS --cacert " + env_.at("OAUTH2_CA_FILE") + " -d client_id=" + env_.at("OAUTH2_PKCE_CLIENT_ID") +
              " -d token_type_hint=refresh_token -d 'token=" + refresh_token + "' " + env_.at("OAUTH2_REVOKE_URL"));
}

oauth2_testbed& shared_oauth2() {
  static oauth2_testbed instance(shared_access_ttl_seconds);
  return instance;
}

void oauth2_testbed::reset_stats() {
  run_command("curl -fsS -X POST " + env_.at("OAUTH2_RESET_STATS_URL") + " >/dev/null");
}

void oauth2_testbed::stop_server() {
  run_command(source_dir() + "/scripts/testbed/oauth2.sh stop " + state_dir_ + "/oauth2");
  running_ = false;
}

void oauth2_testbed::restart_server() {
  run_command(source_dir() + "/scripts/testbed/oauth2.sh restart " + state_dir_ + "/oauth2");
  running_ = true;
}

}  // namespace mailbroker::testing
