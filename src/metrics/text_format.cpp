#include "metrics/text_format.hpp"

#include <charconv>
#include <cmath>

namespace mailbroker::metrics {
namespace {

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (alpha || (colon && c == ':')) return true;
  return !first && c >= '0' && c <= '9';
}

void render_labels(const label_set& labels, const std::pair<std::string, std::string>* extra, std::string& out) {
  if (labels.empty() && extra == nullptr) return;
  out += '{';
  bool first = true;
  auto one = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  };
  for (const auto& [k, v] : labels) one(k, v);
  if (extra != nullptr) one(extra->first, extra->second);
  out += '}';
}

void line(std::string& out, const std::string& name, std::string_view suffix, const label_set& labels,
          const std::pair<std::string, std::string>* extra, std::string_view value) {
  out += name;
  out += suffix;
  render_labels(labels, extra, out);
  out += ' ';
  out += value;
  out += '\n';
}

std::string_view type_name(metric_type t) {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void render_family(const family_snapshot& f, std::string& out) {
  out += "# HELP " + f.name + ' ' + escape_help(f.help) + '\n';
  out += "# TYPE " + f.name + ' ' + std::string(type_name(f.type)) + '\n';
  for (const auto& s : f.samples) {
    if (f.type != metric_type::histogram) {
      line(out, f.name, "", s.labels, nullptr, format_value(s.value));
      continue;
    }
    const auto& h = s.histogram;
    for (std::size_t i = 0; i <= h.bounds.size(); ++i) {
      const std::pair<std::string, std::string> le{
          "le", i < h.bounds.size() ? format_value(h.bounds[i]) : std::string("+Inf")};
      const std::uint64_t n = i < h.cumulative.size() ? h.cumulative[i] : h.count;
      line(out, f.name, "_bucket", s.labels, &le, std::to_string(n));
    }
    line(out, f.name, "_sum", s.labels, nullptr, format_value(h.sum));
    line(out, f.name, "_count", s.labels, nullptr, std::to_string(h.count));
  }
}

std::string render_text(const std::vector<family_snapshot>& families) {
  std::string out;
  for (const auto& f : families) render_family(f, out);
  return out;
}

}  // namespace mailbroker::metrics
