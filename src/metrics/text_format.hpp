#pragma once
// The Prometheus text exposition format, version 0.0.4 (pure: values in, text out).
// https://prometheus.io/docs/instrumenting/exposition_formats/
//
// For each family: "# HELP name text" (help with \ and newline escaped), "# TYPE name
// counter|gauge|histogram", then one line per sample: name{label="value",...} value.
// Label values escape \, " and newline. Values print in the shortest form that reads
// back to the same double; infinities as +Inf / -Inf, not-a-number as NaN.
// A histogram sample becomes name_bucket{...,le="B"} lines (cumulative, ending with
// le="+Inf"), then name_sum and name_count.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailbroker::metrics {

enum class metric_type { counter, gauge, histogram };

using label_set = std::vector<std::pair<std::string, std::string>>;

struct histogram_value {
  std::vector<double> bounds;             // upper bounds, increasing, without +Inf
  std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries; the last is +Inf
  double sum = 0;
  std::uint64_t count = 0;
};

struct sample {
  label_set labels;
  double value = 0;           // counter, gauge
  histogram_value histogram;  // histogram
};

struct family_snapshot {
  std::string name;
  std::string help;
  metric_type type = metric_type::gauge;
  std::vector<sample> samples;
};

// Metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'; "__" reserved).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

std::string format_value(double v);
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);

// Appends `family` to `out`. A family with no samples still gets its HELP and TYPE.
void render_family(const family_snapshot& family, std::string& out);
std::string render_text(const std::vector<family_snapshot>& families);

// The Content-Type of render_text()'s output.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace mailbroker::metrics
