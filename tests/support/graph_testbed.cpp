#include "support/graph_testbed.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "support/dovecot_testbed.hpp"  // run_command, source_dir

namespace mailbroker::testing {
namespace {

std::string script_path() { return source_dir() + "/scripts/testbed/graph.sh"; }

// Single-quoted for the shell (paths, URLs).
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

// Percent-encodes a query parameter value (folder names with spaces, ISO dates with '+').
std::string url_encoded(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace

graph_testbed::graph_testbed(std::string script_env) {
  std::string templ = (std::filesystem::temp_directory_path() / "mb-graph-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  state_dir_ = templ;
  // The fake exits by itself when this test process dies without running the destructor.
  run_command("MB_GRAPH_EXIT_WITH_PID=" + std::to_string(::getpid()) + " " + script_env + " " + script_path() +
              " start " + state_dir_);
  running_ = true;
  std::ifstream in(state_dir_ + "/graph.env");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (auto eq = line.find('='); eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  for (const char* key : {"GRAPH_BASE_URL", "GRAPH_URL", "CONTROL_URL", "CA_FILE", "GRAPH_PORT"}) {
    if (!env_.count(key)) throw std::runtime_error(std::string("graph.env lacks ") + key);
  }
}

graph_testbed::~graph_testbed() {
  try {
    if (running_) run_command(script_path() + " stop " + state_dir_);
  } catch (...) {
  }
  if (std::getenv("MB_KEEP_TESTBED") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
}

std::string graph_testbed::control(const std::string& method, const std::string& path_and_query) const {
  // --fail-with-body: an error answer fails run_command, whose exception carries the
  // control API's {"error": "..."}.
  return run_command("curl -sS --fail-with-body --max-time 30 -X " + method + " " +
                     quoted(control_url() + "/" + path_and_query));
}

nlohmann::json graph_testbed::deliver(const std::string& user, const std::string& file, const std::string& folder,
                                      const std::optional<std::string>& received, bool read) const {
  std::string query = "deliver?user=" + url_encoded(user) + "&folder=" + url_encoded(folder_id(user, folder));
  if (received) query += "&received=" + url_encoded(*received);
  if (read) query += "&read=1";
  return nlohmann::json::parse(run_command("curl -sS --fail-with-body --max-time 30 -X POST --data-binary @" +
                                           quoted(file) + " " + quoted(control_url() + "/" + query)));
}

std::string graph_testbed::create_folder(const std::string& user, const std::string& name,
                                         const std::string& parent_id) const {
  const auto answer = nlohmann::json::parse(control(
      "POST", "folder?user=" + url_encoded(user) + "&parent=" + url_encoded(parent_id) + "&name=" + url_encoded(name)));
  return answer.at("id").get<std::string>();
}

std::string graph_testbed::folder_id(const std::string& user, const std::string& path) const {
  if (path.empty()) throw std::invalid_argument("folder_id: empty folder path");
  const nlohmann::json dump = mailbox(user);
  std::string parent;  // the root's id
  for (const auto& f : dump.at("folders")) {
    if (f.at("path") == "") parent = f.at("id").get<std::string>();
  }
  std::string so_far;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const std::string name = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    so_far += (so_far.empty() ? "" : "/") + (so_far.empty() && lower(name) == "inbox" ? std::string("INBOX") : name);
    std::string found;
    for (const auto& f : dump.at("folders")) {
      if (f.at("path") == so_far) found = f.at("id").get<std::string>();
    }
    parent = found.empty() ? create_folder(user, name, parent) : found;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parent;
}

nlohmann::json graph_testbed::mailbox(const std::string& user) const {
  nlohmann::json dump = nlohmann::json::parse(control("GET", "mailbox?user=" + url_encoded(user)));
  auto& folders = dump.at("folders");
  // Paths from the parent links: the root is "", its Inbox "INBOX", the rest by display name.
  std::map<std::string, const nlohmann::json*> by_id;
  for (const auto& f : folders) by_id[f.at("id").get<std::string>()] = &f;
  auto path_of = [&](const nlohmann::json& start) {
    std::vector<std::string> names;
    const nlohmann::json* f = &start;
    for (int depth = 0; depth < 64 && f != nullptr; ++depth) {
      if (f->at("wellKnownName") == "msgfolderroot") break;
      names.push_back(f->at("wellKnownName") == "inbox" ? std::string("INBOX") : f->at("name").get<std::string>());
      const auto& parent = f->at("parent");
      f = parent.is_string() && by_id.count(parent.get<std::string>()) ? by_id[parent.get<std::string>()] : nullptr;
    }
    std::string path;
    for (auto it = names.rbegin(); it != names.rend(); ++it) path += (path.empty() ? "" : "/") + *it;
    return path;
  };
  std::vector<std::string> paths;
  for (const auto& f : folders) paths.push_back(path_of(f));
  for (std::size_t i = 0; i < folders.size(); ++i) folders[i]["path"] = paths[i];
  return dump;
}

std::vector<nlohmann::json> graph_testbed::sent_items(const std::string& user) const {
  std::vector<nlohmann::json> out;
  const nlohmann::json dump = mailbox(user);  // a range-for over a temporary's member dangles
  for (const auto& f : dump.at("folders")) {
    if (f.at("wellKnownName") != "sentitems") continue;
    for (const auto& m : f.at("messages")) out.push_back(m);
  }
  return out;
}

nlohmann::json graph_testbed::requests() const { return nlohmann::json::parse(control("GET", "requests")); }

nlohmann::json graph_testbed::counters_json() const { return nlohmann::json::parse(control("GET", "counters")); }

std::map<std::string, long> graph_testbed::counters() const {
  std::map<std::string, long> out;
  const nlohmann::json parsed = counters_json();
  for (const auto& [key, value] : parsed.items()) {
    if (value.is_number()) out[key] = value.get<long>();
  }
  return out;
}

long graph_testbed::max_in_flight(const std::string& user) const {
  const nlohmann::json parsed = counters_json();
  const auto& all = parsed.at("max_in_flight");
  return all.contains(user) ? all.at(user).get<long>() : 0;
}

void graph_testbed::set_delay(int ms) const { control("POST", "delay?ms=" + std::to_string(ms)); }

void graph_testbed::set_limits(int concurrency, int retry_after_seconds) const {
  control("POST", "limits?concurrency=" + std::to_string(concurrency) +
                      "&retry_after=" + std::to_string(retry_after_seconds));
}

void graph_testbed::fail(const std::string& mode, int count, std::optional<long> huge_bytes,
                         std::optional<int> retry_after_seconds) const {
  std::string query = "fail?mode=" + url_encoded(mode) + "&count=" + std::to_string(count);
  if (huge_bytes) query += "&bytes=" + std::to_string(*huge_bytes);
  if (retry_after_seconds) query += "&retry_after=" + std::to_string(*retry_after_seconds);
  control("POST", query);
}

std::string graph_testbed::mint_token(const std::string& user, const std::vector<std::string>& permissions) const {
  std::string query = "mint_token?user=" + url_encoded(user);
  if (!permissions.empty()) query += "&permissions=" + url_encoded(joined(permissions));
  return nlohmann::json::parse(control("POST", query)).at("access_token").get<std::string>();
}

std::string graph_testbed::mint_app_token(const std::vector<std::string>& permissions) const {
  std::string query = "mint_token?app=1";
  if (!permissions.empty()) query += "&permissions=" + url_encoded(joined(permissions));
  return nlohmann::json::parse(control("POST", query)).at("access_token").get<std::string>();
}

std::string graph_testbed::graph_get(const std::string& token, const std::string& path_and_query) const {
  // A minted token of this throwaway fake: harmless on a command line.
  return run_command("curl -sS --fail-with-body --max-time 30 --cacert " + quoted(ca_file()) +
                     " -H " + quoted("Authorization: Bearer " + token) + " " + quoted(graph_url() + path_and_query));
}

void graph_testbed::reset() const { control("POST", "reset"); }

}  // namespace mailbroker::testing
