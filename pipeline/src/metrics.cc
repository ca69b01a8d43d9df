#include "chorus/pipeline/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>

#include "chorus/pipeline/clock.h"
#include "metric_family.h"
#include "metric_names.h"

namespace chorus {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;
using namespace metric_family;
namespace names = metric_names;

MetricFamily FamilyOf(const names::Family& f, MetricType type) {
  return Family(std::string(f.name), std::string(f.help), type);
}

void ChannelFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  auto events = FamilyOf(names::kChannelEvents, MetricType::Counter);
  auto followers = FamilyOf(names::kChannelFollowers, MetricType::Gauge);
  auto posts = FamilyOf(names::kChannelPosts, MetricType::Counter);
  auto engagements = FamilyOf(names::kChannelEngagements, MetricType::Counter);
  for (const ChannelSnapshot& c : s.channels) {
    std::string platform(ops::Name(c.platform));
    for (int k = 1; k < ops::kEventKindCount; ++k) {
      if (uint64_t v = c.totals.events_by_kind[k]) {
        AddSample(events,
                  {{"channel", c.channel_id},
                   {"platform", platform},
                   {"kind", std::string(ops::Name(static_cast<ops::EventKind>(k)))}},
                  static_cast<double>(v));
      }
    }
    AddSample(followers, {{"channel", c.channel_id}, {"platform", platform}},
              static_cast<double>(c.followers));
    for (int t = 0; t < ops::kContentTypeCount; ++t) {
      std::string ct(ops::Name(static_cast<ops::ContentType>(t)));
      if (uint64_t v = c.totals.posts_by_content_type[t]) {
        AddSample(posts, {{"channel", c.channel_id}, {"platform", platform}, {"content_type", ct}},
                  static_cast<double>(v));
      }
      if (uint64_t v = c.totals.engagements_by_content_type[t]) {
        AddSample(engagements,
                  {{"channel", c.channel_id}, {"platform", platform}, {"content_type", ct}},
                  static_cast<double>(v));
      }
    }
  }
  for (auto* f : {&events, &followers, &posts, &engagements}) out.push_back(std::move(*f));
}

void CommunityFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  auto members = FamilyOf(names::kCommunityMembers, MetricType::Gauge);
  for (int i = 0; i < ops::kStageCount; ++i) {
    AddSample(members, {{"stage", std::string(ops::Name(static_cast<ops::Stage>(i)))}},
              static_cast<double>(s.members.members_by_stage[i]));
  }
  out.push_back(std::move(members));
  auto fresh = FamilyOf(names::kCommunityNewMembers, MetricType::Counter);
  AddSample(fresh, {}, static_cast<double>(s.members.new_members));
  out.push_back(std::move(fresh));
  auto transitions = FamilyOf(names::kCommunityTransitions, MetricType::Counter);
  for (int f = 0; f < ops::kStageCount; ++f) {
    for (int t = 0; t < ops::kStageCount; ++t) {
      if (uint64_t v = s.members.transitions[f][t]) {
        AddSample(transitions,
                  {{"from", std::string(ops::Name(static_cast<ops::Stage>(f)))},
                   {"to", std::string(ops::Name(static_cast<ops::Stage>(t)))}},
                  static_cast<double>(v));
      }
    }
  }
  out.push_back(std::move(transitions));

  auto love = Family("chorus_community_love_score",
                     "Distribution of members' decayed love scores at the watermark.",
                     MetricType::Histogram);
  if (!s.love.bounds.empty()) {
    love.metric.push_back(Histogram(s.love.bounds, s.love.cumulative, s.love.count, s.love.sum));
    out.push_back(std::move(love));
  }
  auto sentiment = Family("chorus_community_sentiment", "Sentiment of scored member events.",
                          MetricType::Histogram);
  sentiment.metric.push_back(HistogramFromBuckets(
      ops::kSentimentBounds, s.members.sentiment_buckets, s.members.sentiment_sum));
  out.push_back(std::move(sentiment));
}

void PipelineFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  auto events =
      Family("chorus_pipeline_events_total", "Input records by outcome.", MetricType::Counter);
  for (int i = 0; i < kOutcomeCount; ++i) {
    AddSample(events, {{"outcome", std::string(Name(static_cast<Outcome>(i)))}},
              static_cast<double>(s.counters.outcomes[i]));
  }
  out.push_back(std::move(events));
  auto dlq = Family("chorus_pipeline_dlq_events_total", "Records sent to the DLQ, by reason.",
                    MetricType::Counter);
  for (int i = 0; i < kDlqReasonCount; ++i) {
    AddSample(dlq, {{"reason", std::string(Name(static_cast<DlqReason>(i)))}},
              static_cast<double>(s.counters.dlq[i]));
  }
  out.push_back(std::move(dlq));
  auto lag = Family("chorus_pipeline_consumer_lag", "Records behind the end of the partition.",
                    MetricType::Gauge);
  for (const PartitionSnapshot& p : s.partitions) {
    if (p.lag >= 0) {
      AddSample(lag, {{"topic", p.tp.topic}, {"partition", std::to_string(p.tp.partition)}},
                static_cast<double>(p.lag));
    }
  }
  out.push_back(std::move(lag));
  auto lag_seconds = Family("chorus_pipeline_consumer_lag_seconds",
                            "How far behind the wall clock the last record read was, while "
                            "records wait (0 when caught up).",
                            MetricType::Gauge);
  auto newest = Family("chorus_pipeline_partition_max_event_timestamp_seconds",
                       "The newest event time read from the partition.", MetricType::Gauge);
  for (const PartitionSnapshot& p : s.partitions) {
    std::vector<prometheus::ClientMetric::Label> labels = {
        {"topic", p.tp.topic}, {"partition", std::to_string(p.tp.partition)}};
    if (p.lag_seconds >= 0) AddSample(lag_seconds, labels, p.lag_seconds);
    if (p.max_event != ops::EventTime::Min()) AddSample(newest, labels, p.max_event.seconds());
  }
  out.push_back(std::move(lag_seconds));
  out.push_back(std::move(newest));
  auto event_lag = Family("chorus_pipeline_event_time_lag_seconds",
                          "Wall clock minus event time when an event is processed (1 in 64).",
                          MetricType::Histogram);
  event_lag.metric.push_back(
      HistogramFromBuckets(kEventLagBounds, s.event_lag.buckets, s.event_lag.sum));
  out.push_back(std::move(event_lag));
  // A gauge, not a counter of seconds: it is this process's observation,
  // and counters here are kept with the state, so they never go back at a
  // restart.
  auto wait = Family("chorus_pipeline_input_wait_ratio",
                     "Share of the time between the last two commits that the processing thread "
                     "waited for records to read (the rest it was busy); near 0 while there is "
                     "lag: chorus, not its input, sets the pace.",
                     MetricType::Gauge);
  AddSample(wait, {}, s.input_wait_ratio);
  out.push_back(std::move(wait));
  auto rebalances =
      Family("chorus_pipeline_rebalances_total",
             "Partition assignments and revocations (kept with the state).", MetricType::Counter);
  AddSample(rebalances, {}, static_cast<double>(s.rebalances));
  out.push_back(std::move(rebalances));
  auto wm = Family("chorus_pipeline_watermark_timestamp_seconds",
                   "Event-time watermark: no earlier events are expected.", MetricType::Gauge);
  if (s.watermark != ops::EventTime::Min()) AddSample(wm, {}, s.watermark.seconds());
  out.push_back(std::move(wm));
  auto windows =
      Family("chorus_pipeline_windows_closed_total",
             "Channel windows fired by the watermark (first results).", MetricType::Counter);
  for (int i = 0; i < ops::kWindowSpecCount; ++i) {
    AddSample(windows, {{"window", std::string(ops::kWindowSpecs[i].name)}},
              static_cast<double>(s.windows_closed[i]));
  }
  out.push_back(std::move(windows));
  auto members =
      Family("chorus_community_members_tracked", "Members with state.", MetricType::Gauge);
  AddSample(members, {}, static_cast<double>(s.member_count));
  out.push_back(std::move(members));
}

void StateFamilies(const StateHealth& h, std::vector<MetricFamily>& out) {
  auto bytes = Family("chorus_state_bytes", "RocksDB bytes per store (SST files and memtables).",
                      MetricType::Gauge);
  for (int i = 0; i < kStoreCount; ++i) {
    AddSample(bytes, {{"store", std::string(Name(static_cast<Store>(i)))}},
              static_cast<double>(h.bytes[i]));
  }
  out.push_back(std::move(bytes));
  auto pending =
      Family("chorus_state_pending_compaction_bytes",
             "Bytes RocksDB estimates compaction still has to rewrite.", MetricType::Gauge);
  AddSample(pending, {}, static_cast<double>(h.pending_compaction_bytes));
  out.push_back(std::move(pending));
  auto stopped =
      Family("chorus_state_write_stopped",
             "1 while RocksDB stops writes (too many memtables or L0 files).", MetricType::Gauge);
  AddSample(stopped, {}, h.write_stopped ? 1 : 0);
  out.push_back(std::move(stopped));
  auto delayed = Family("chorus_state_delayed_write_rate_bytes",
                        "The write rate RocksDB slows writes to while stalling; 0 when not.",
                        MetricType::Gauge);
  AddSample(delayed, {}, static_cast<double>(h.delayed_write_rate));
  out.push_back(std::move(delayed));
}

}  // namespace

void MetricsExporter::SetStateHealth(std::function<StateHealth()> fn) {
  state_health_ = std::move(fn);
}

MetricsExporter::MetricsExporter(SnapshotFn snapshot)
    : snapshot_(std::move(snapshot)), registry_(std::make_shared<prometheus::Registry>()) {
  commit_seconds_ =
      &prometheus::BuildHistogram()
           .Name("chorus_pipeline_commit_seconds")
           .Help("Time to make state and offsets durable.")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                            0.1, 0.25, 0.5, 1, 2.5, 5});
  // A failed commit, like any runtime failure, ends the process (exit 1) and
  // its supervisor restarts it: restarts are how failing commits show.
  prometheus::BuildGauge()
      .Name("chorus_process_start_time_seconds")
      .Help("When this chorus process started (Unix time).")
      .Register(*registry_)
      .Add({})
      .Set(static_cast<double>(SystemClock().Now().millis()) / 1000.0);
  replay_in_progress_ = &prometheus::BuildGauge()
                             .Name("chorus_pipeline_replay_in_progress")
                             .Help("1 while a replay rebuilds state; alerts are inhibited.")
                             .Register(*registry_)
                             .Add({});
}

MetricsExporter::~MetricsExporter() = default;

void MetricsExporter::ObserveCommit(double seconds) { commit_seconds_->Observe(seconds); }

void MetricsExporter::SetReplayInProgress(bool in_progress) {
  replay_in_progress_->Set(in_progress ? 1 : 0);
}

std::string MetricsExporter::Render() const {
  std::vector<MetricFamily> families = registry_->Collect();
  if (auto s = snapshot_()) {
    ChannelFamilies(*s, families);
    ResponsivenessFamilies(*s, families);
    PostFamilies(*s, families);
    CommunityFamilies(*s, families);
    RelationshipFamilies(*s, families);
    WindowFamilies(*s, families);
    PipelineFamilies(*s, families);
  }
  if (state_health_) StateFamilies(state_health_(), families);
  std::string out;
  const size_t last = last_size_.load(std::memory_order_relaxed);
  out.reserve(last + last / 8);  // one scrape is much like the last: one allocation
  AppendText(families, out);
  last_size_.store(out.size(), std::memory_order_relaxed);
  return out;
}

}  // namespace chorus
