#include "support/smtp_testbed.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/dovecot_testbed.hpp"  // run_command, source_dir

namespace mailbroker::testing {

smtp_testbed::smtp_testbed(std::string state_dir, std::string script_env) : state_dir_(std::move(state_dir)) {
  if (state_dir_.empty()) {
    std::string templ = (std::filesystem::temp_directory_path() / "mb-smtp-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    state_dir_ = templ;
    own_dir_ = true;
  }
  run_command(script_env + " " + source_dir() + "/scripts/testbed/smtp.sh start " + state_dir_);
  running_ = true;
  std::ifstream in(state_dir_ + "/smtp.env");
  for (std::string line; std::getline(in, line);) {
    if (auto eq = line.find('='); eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (!env_.count("SMTPS_PORT") || !env_.count("SMTP_MESSAGES_DIR")) {
    throw std::runtime_error("smtp.env has no SMTPS_PORT or SMTP_MESSAGES_DIR");
  }
}

smtp_testbed::~smtp_testbed() {
  try {
    stop();
  } catch (...) {
  }
  if (own_dir_ && std::getenv("MB_KEEP_TESTBED") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
}

void smtp_testbed::stop() {
  if (!running_) return;
  run_command(source_dir() + "/scripts/testbed/smtp.sh stop " + state_dir_);
  running_ = false;
}

std::uint16_t smtp_testbed::port(const std::string& key) const {
  return static_cast<std::uint16_t>(std::stoi(env_.at(key)));
}

std::string smtp_testbed::password(const std::string& user) const {
  std::string key = "SMTP_";
  for (char c : user) key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return env_.at(key + "_PASSWORD");
}

std::string smtp_testbed::read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<recorded_message> smtp_testbed::messages() const {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(messages_dir())) {
    const std::string name = entry.path().filename().string();
    // NNNNNN.json only: the .tmp files of a write in progress are skipped.
    if (name.size() == 11 && name.compare(6, 5, ".json") == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::vector<recorded_message> out;
  for (const auto& name : names) {
    const auto j = nlohmann::json::parse(read_file(messages_dir() + "/" + name));
    recorded_message m;
    m.id = j.at("id").get<std::string>();
    m.eml_path = messages_dir() + "/" + j.at("eml").get<std::string>();
    m.mail_from = j.at("mail_from").is_string() ? j.at("mail_from").get<std::string>() : "";
    m.rcpt_to = j.at("rcpt_to").get<std::vector<std::string>>();
    const auto& params = j.at("params");
    m.body_param = params.at("BODY").is_string() ? params.at("BODY").get<std::string>() : "";
    m.smtputf8 = params.at("SMTPUTF8").get<bool>();
    m.size_param = params.at("SIZE").is_number() ? params.at("SIZE").get<std::int64_t>() : -1;
    m.user = j.at("user").is_string() ? j.at("user").get<std::string>() : "";
    m.tls = j.at("tls").get<bool>();
    out.push_back(std::move(m));
  }
  return out;
}

nlohmann::json smtp_testbed::parse_eml(const std::string& eml_path) {
  // run_command merges stderr into stdout; parse_eml.py writes only JSON on success.
  return nlohmann::json::parse(run_command("python3 " + source_dir() + "/scripts/testbed/parse_eml.py '" + eml_path + "'"));
}

}  // namespace mailbroker::testing
