#include "metrics/metrics.hpp"

#include <algorithm>
#include <stdexcept>

namespace mailbroker::metrics {

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) {
  const auto at = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[at].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;  // _count equals the +Inf bucket, as the format requires
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

template <class Metric>
Metric& family<Metric>::with(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::logic_error("metric " + name_ + ": " + std::to_string(values.size()) + " label values for " +
                           std::to_string(label_names_.size()) + " labels");
  }
  std::lock_guard lock(mutex_);
  if (auto it = children_.find(values); it != children_.end()) return *it->second;
  if (children_.size() >= max_children) {
    std::vector<std::string> other(values.size(), "other");
    auto& slot = children_[other];
    if (!slot) slot = make_();
    return *slot;
  }
  auto& slot = children_[values];
  slot = make_();
  return *slot;
}

template <class Metric>
Metric& family<Metric>::with(std::initializer_list<std::string_view> values) {
  std::vector<std::string> v;
  v.reserve(values.size());
  for (auto s : values) v.emplace_back(s);
  return with(v);
}

template <class Metric>
family_snapshot family<Metric>::snapshot() const {
  family_snapshot f;
  f.name = name_;
  f.help = help_;
  std::lock_guard lock(mutex_);
  f.samples.reserve(children_.size());
  for (const auto& [values, child] : children_) {
    sample s;
    for (std::size_t i = 0; i < values.size(); ++i) s.labels.emplace_back(label_names_[i], values[i]);
    if constexpr (std::is_same_v<Metric, counter>) {
      s.value = static_cast<double>(child->value());
    } else if constexpr (std::is_same_v<Metric, gauge>) {
      s.value = child->value();
    } else {
      auto h = child->read();
      s.histogram = histogram_value{child->bounds(), std::move(h.cumulative), h.sum, h.count};
    }
    f.samples.push_back(std::move(s));
  }
  if constexpr (std::is_same_v<Metric, counter>) f.type = metric_type::counter;
  else if constexpr (std::is_same_v<Metric, gauge>) f.type = metric_type::gauge;
  else f.type = metric_type::histogram;
  return f;
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

template <class Metric>
family<Metric>& registry::get_or_make(const std::string& name, const std::string& help, metric_type type,
                                      std::vector<std::string> label_names, std::vector<double> bounds,
                                      std::function<std::unique_ptr<Metric>()> make) {
  if (!valid_metric_name(name)) throw std::logic_error("invalid metric name '" + name + "'");
  for (const auto& l : label_names) {
    if (!valid_label_name(l) || (type == metric_type::histogram && l == "le")) {
      throw std::logic_error("metric " + name + ": invalid label name '" + l + "'");
    }
  }
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    const auto& e = it->second;
    if (e.type != type || e.label_names != label_names || e.bounds != bounds) {
      throw std::logic_error("metric " + name + " registered twice with different type, labels or buckets");
    }
    return *static_cast<family<Metric>*>(e.family.get());
  }
  auto f = std::make_shared<family<Metric>>(name, help, label_names, std::move(make));
  auto* raw = f.get();
  families_.emplace(name, entry{type, std::move(label_names), std::move(bounds), f, [raw] { return raw->snapshot(); }});
  return *raw;
}

family<counter>& registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  return get_or_make<counter>(name, help, metric_type::counter, std::move(label_names), {},
                              [] { return std::make_unique<counter>(); });
}

family<gauge>& registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return get_or_make<gauge>(name, help, metric_type::gauge, std::move(label_names), {},
                            [] { return std::make_unique<gauge>(); });
}

family<histogram>& registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names, std::vector<double> bounds) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    throw std::logic_error("metric " + name + ": bucket bounds must be strictly increasing");
  }
  return get_or_make<histogram>(name, help, metric_type::histogram, std::move(label_names), bounds,
                                [bounds] { return std::make_unique<histogram>(bounds); });
}

std::uint64_t registry::add_collector(collector c) {
  std::lock_guard lock(mutex_);
  const auto id = next_collector_++;
  collectors_.emplace(id, std::move(c));
  return id;
}

void registry::remove_collector(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  collectors_.erase(id);
}

std::vector<family_snapshot> registry::collect() const {
  std::vector<family_snapshot> out;
  // The registry lock is held throughout so a collector cannot be removed (and what it
  // reads destroyed) while it runs.
  std::lock_guard lock(mutex_);
  out.reserve(families_.size());
  for (const auto& [name, e] : families_) out.push_back(e.snapshot());
  for (const auto& [id, c] : collectors_) c(out);
  return out;
}

std::string registry::render() const { return render_text(collect()); }

registry& process_registry() {
  static registry r;
  return r;
}

}  // namespace mailbroker::metrics
