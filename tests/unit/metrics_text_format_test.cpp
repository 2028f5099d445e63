// The Prometheus text format (0.0.4) rendered from values, and the registry behind it.
#include "metrics/metrics.hpp"
#include "metrics/text_format.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace mailbroker::metrics {
namespace {

TEST(metrics_text_format, CounterFamilyWithHelpTypeAndLabels) {
  family_snapshot f{"mb_requests_total", "Requests served.", metric_type::counter, {}};
  f.samples.push_back({{{"method", "get"}, {"code", "200"}}, 3, {}});
  f.samples.push_back({{}, 0, {}});
  EXPECT_EQ(render_text({f}),
            "# HELP mb_requests_total Requests served.\n"
            "# TYPE mb_requests_total counter\n"
            "mb_requests_total{method=\"get\",code=\"200\"} 3\n"
            "mb_requests_total 0\n");
}

TEST(metrics_text_format, EscapesLabelValuesAndHelp) {
  family_snapshot f{"mb_x", "line one\nback\\slash \"quoted\"", metric_type::gauge, {}};
  f.samples.push_back({{{"path", "C:\\dir\n\"q\""}}, 1.5, {}});
  EXPECT_EQ(render_text({f}),
            "# HELP mb_x line one\\nback\\\\slash \"quoted\"\n"  // help keeps " as is
            "# TYPE mb_x gauge\n"
            "mb_x{path=\"C:\\\\dir\\n\\\"q\\\"\"} 1.5\n");
}

TEST(metrics_text_format, SpecialAndShortestValues) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(-2.5), "-2.5");
  EXPECT_EQ(format_value(1e21), "1e+21");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(metrics_text_format, HistogramBucketsAreCumulativeAndEndWithInf) {
  family_snapshot f{"mb_latency_seconds", "Latency.", metric_type::histogram, {}};
  sample s;
  s.labels = {{"op", "list"}};
  s.histogram = {{0.1, 1}, {2, 3, 4}, 2.75, 4};
  f.samples.push_back(s);
  EXPECT_EQ(render_text({f}),
            "# HELP mb_latency_seconds Latency.\n"
            "# TYPE mb_latency_seconds histogram\n"
            "mb_latency_seconds_bucket{op=\"list\",le=\"0.1\"} 2\n"
            "mb_latency_seconds_bucket{op=\"list\",le=\"1\"} 3\n"
            "mb_latency_seconds_bucket{op=\"list\",le=\"+Inf\"} 4\n"
            "mb_latency_seconds_sum{op=\"list\"} 2.75\n"
            "mb_latency_seconds_count{op=\"list\"} 4\n");
}

TEST(metrics_text_format, EmptyFamilyStillDeclared) {
  EXPECT_EQ(render_text({{"mb_none_total", "Nothing yet.", metric_type::counter, {}}}),
            "# HELP mb_none_total Nothing yet.\n# TYPE mb_none_total counter\n");
}

TEST(metrics_text_format, NameRules) {
  EXPECT_TRUE(valid_metric_name("mailbroker_sessions"));
  EXPECT_TRUE(valid_metric_name("a:b_c9"));
  EXPECT_FALSE(valid_metric_name("9abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("protocol"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST(metrics_registry, HistogramObservesIntoTheFirstBucketAtOrAboveTheValue) {
  histogram h({0.1, 1});
  h.observe(0.1);   // le="0.1" is inclusive
  h.observe(0.5);
  h.observe(7);
  auto s = h.read();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(s.count, 3u);
  EXPECT_DOUBLE_EQ(s.sum, 7.6);
}

TEST(metrics_registry, RendersRegisteredFamiliesThenCollectors) {
  registry r;
  auto& c = r.counter_family("mb_events_total", "Events.", {"kind"});
  c.with({"a"}).inc(2);
  c.with({"b"}).inc();
  EXPECT_EQ(&c.with({"a"}), &c.with({"a"}));  // one child per label set
  r.gauge_family("mb_depth", "Depth.").with(std::vector<std::string>{}).set(5);
  const auto id = r.add_collector([](std::vector<family_snapshot>& out) {
    out.push_back({"mb_collected", "From a collector.", metric_type::gauge, {{{}, 9, {}}}});
  });
  EXPECT_EQ(r.render(),
            "# HELP mb_depth Depth.\n# TYPE mb_depth gauge\nmb_depth 5\n"
            "# HELP mb_events_total Events.\n# TYPE mb_events_total counter\n"
            "mb_events_total{kind=\"a\"} 2\nmb_events_total{kind=\"b\"} 1\n"
            "# HELP mb_collected From a collector.\n# TYPE mb_collected gauge\nmb_collected 9\n");
  r.remove_collector(id);
  EXPECT_EQ(r.render().find("mb_collected"), std::string::npos);
}

TEST(metrics_registry, SameNameSameShapeIsOneFamilyOtherwiseAnError) {
  registry r;
  auto& a = r.counter_family("mb_x_total", "X.", {"l"});
  EXPECT_EQ(&a, &r.counter_family("mb_x_total", "X.", {"l"}));
  EXPECT_THROW(r.counter_family("mb_x_total", "X.", {"other"}), std::logic_error);
  EXPECT_THROW(r.gauge_family("mb_x_total", "X.", {"l"}), std::logic_error);
  EXPECT_THROW(r.counter_family("bad-name", "X."), std::logic_error);
  EXPECT_THROW(r.histogram_family("mb_h", "H.", {"le"}, {1}), std::logic_error);
  EXPECT_THROW(r.histogram_family("mb_h", "H.", {}, {2, 1}), std::logic_error);
  EXPECT_THROW(a.with({"one", "two"}), std::logic_error);
}

TEST(metrics_registry, LabelSetsBeyondTheCapShareOneOtherChild) {
  registry r;
  auto& f = r.counter_family("mb_capped_total", "Capped.", {"method"});
  for (std::size_t i = 0; i < family<counter>::max_children; ++i) f.with({std::to_string(i)}).inc();
  f.with({"one-too-many"}).inc();
  f.with({"and-another"}).inc();
  const auto text = r.render();
  EXPECT_NE(text.find("mb_capped_total{method=\"other\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find("one-too-many"), std::string::npos);
}

TEST(metrics_registry, ConcurrentIncrementsAreAllCounted) {
  registry r;
  auto& c = r.counter_family("mb_hits_total", "Hits.").with(std::vector<std::string>{});
  auto& h = r.histogram_family("mb_h_seconds", "H.", {}, {0.5}).with(std::vector<std::string>{});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  const auto s = h.read();
  EXPECT_EQ(s.cumulative[0], 20000u);
  EXPECT_EQ(s.count, 40000u);
  EXPECT_DOUBLE_EQ(s.sum, 20000 * 0.25 + 20000 * 1.0);
}

}  // namespace
}  // namespace mailbroker::metrics
