#pragma once
// A small metrics registry: counters, gauges and histograms with labels, rendered in
// the Prometheus text exposition format 0.0.4 (text_format.hpp).
//
// Usage: a family is registered once (at start-up) and hands out one child per set of
// label values. Look the child up once and keep the reference: it lives as long as the
// registry, and updating it is one relaxed atomic operation, no lock.
//
//   auto& logins = registry.counter_family("mailbroker_logins_total", "Logins to mail servers.",
//                                          {"protocol", "result"});
//   counter& imap_ok = logins.with({"imap", "ok"});
//   imap_ok.inc();
//
// Values that already live elsewhere (sessions by state, the token cache) are read at
// scrape time by a collector instead of being mirrored by hooks.
//
// Threading: everything is thread-safe. with() takes the family's mutex (do it once, not
// per event); inc/set/observe are lock-free; render() takes each family's mutex briefly
// and runs the collectors on the caller's thread.
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/text_format.hpp"

namespace mailbroker::metrics {

class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void inc() { add(1); }
  void dec() { add(-1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class histogram {
 public:
  // `bounds`: upper bounds of the buckets, strictly increasing, without +Inf.
  explicit histogram(std::vector<double> bounds);
  // Counts `v` in the first bucket whose bound is >= v (and in +Inf).
  void observe(double v);

  struct snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  // Read bucket by bucket while others observe: counts are each exact, and the
  // cumulative sums are made monotonic, so a scrape never shows a bucket shrinking.
  snapshot read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (the last is +Inf)
  std::atomic<double> sum_{0};
};

// Buckets for latencies in seconds: 0.5 ms .. 60 s (RPCs from a sub-ms attach to a
// minute-long download).
std::vector<double> latency_buckets();

// One metric name with fixed label names; children by label values. Families are
// created by the registry and live as long as it does.
template <class Metric>
class family {
 public:
  // The child for `values` (one per label name, in order), created on first use. Past
  // max_children distinct label sets, new ones share one child whose values are all
  // "other" (clients choose some label values, e.g. an unknown RPC method name, and
  // must not grow memory without bound).
  Metric& with(std::initializer_list<std::string_view> values);
  Metric& with(const std::vector<std::string>& values);
  const std::string& name() const { return name_; }

  static constexpr std::size_t max_children = 2000;

  family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), make_(std::move(make)) {}
  family_snapshot snapshot() const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

class registry {
 public:
  using collector = std::function<void(std::vector<family_snapshot>& out)>;

  // Registering a name twice returns the same family when type and labels match;
  // otherwise std::logic_error (a programming error, found at start-up).
  family<counter>& counter_family(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names = {});
  family<gauge>& gauge_family(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  family<histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names, std::vector<double> bounds);

  // Adds a collector run by every render(); it appends families of its own (names not
  // registered here). Returns an id for remove_collector(). A collector must not call
  // back into this registry.
  std::uint64_t add_collector(collector c);
  void remove_collector(std::uint64_t id);

  // Every family, registered ones first (in name order), then the collectors'.
  std::vector<family_snapshot> collect() const;
  // collect() in the text format.
  std::string render() const;

 private:
  struct entry {
    metric_type type;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::shared_ptr<void> family;
    std::function<family_snapshot()> snapshot;
  };
  template <class Metric>
  family<Metric>& get_or_make(const std::string& name, const std::string& help, metric_type type,
                              std::vector<std::string> label_names, std::vector<double> bounds,
                              std::function<std::unique_ptr<Metric>()> make);

  mutable std::mutex mutex_;
  std::map<std::string, entry> families_;
  std::map<std::uint64_t, collector> collectors_;
  std::uint64_t next_collector_ = 1;
};

// The process's registry: the daemon's metrics, hooks in the core library and the
// /metrics endpoint all use it (one daemon per process; in-process tests that start
// several in turn see counters keep counting, as a restarted exporter's would not).
registry& process_registry();

}  // namespace mailbroker::metrics
