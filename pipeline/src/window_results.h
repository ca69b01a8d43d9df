// Window results in their published form: the chorus.v1.ChannelWindow
// record, the outbox entries that carry it to the results topic, and the
// recent results kept per channel for the API and the window gauges.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/state.h"
#include "chorus/pipeline/snapshot.h"
#include "chorus/pipeline/window_output.h"
#include "chorus/v1/channel_window.pb.h"

namespace chorus {

// Fills `out` (cleared first) with `w`.
void FillChannelWindow(const ops::WindowResult& w, v1::ChannelWindow& out);
// The record's bytes, the same for the same message on every run.
std::string SerializeDeterministic(const v1::ChannelWindow& m);

// Outbox entries: the key is the sequence number (8 bytes BE), so entries
// sort in emission order and a delivered prefix is one range delete.
std::string OutboxKey(uint64_t seq);
ops::Mutation EncodeOutbox(const OutputRecord& r);
std::optional<OutputRecord> DecodeOutbox(std::string_view key, std::string_view value);

WindowFigures FiguresOf(const v1::ChannelWindow& m);

// Each channel's recent hour and day results, stored in the windows column
// family under (channel, size, start): the newest kKept[size] windows per
// channel, each at its newest revision. Only the starts are kept in memory, to know which
// record falls out, plus the newest window's figures for the gauges.
class RecentWindows {
 public:
  // No 1 m windows (see Processor::OnWindow), 1 h windows for two days, 1 d
  // windows for five weeks.
  static constexpr std::array<size_t, ops::kWindowSpecCount> kKept = {0, 48, 35};

  // The windows store's writes since the last commit: the last value per
  // key (nullopt: delete), since a batch must not write a key twice.
  using Writes = std::map<std::string, std::optional<std::string>>;

  // Records a result and the store's writes for it.
  void Add(const v1::ChannelWindow& m, int spec_index, const std::string& value, Writes& out);
  // Accepts what Add stored; false if it does not parse.
  bool Restore(std::string_view key, std::string_view value);
  const LatestWindows& latest() const { return latest_; }

  // The stored keys of `channel_id`'s windows begin with this.
  static std::string Prefix(std::string_view channel_id);
  // The size's index in kWindowSpecs, from a stored key; -1 if malformed.
  static int SpecOfKey(std::string_view key);

 private:
  static std::string Key(std::string_view channel_id, int spec_index, int64_t start_ms);
  void Track(const std::string& channel_id, int spec_index, int64_t start_ms,
             const WindowFigures& f, Writes* out);

  std::map<std::string, std::array<std::deque<int64_t>, ops::kWindowSpecCount>, std::less<>>
      starts_;
  LatestWindows latest_;
};

}  // namespace chorus
