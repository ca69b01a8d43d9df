#include "support/events.h"

#include <fstream>
#include <stdexcept>

#include "chorus/pipeline/file_source.h"

namespace chorus::testing {

v1::EngagementEvent Event(const std::string& id, int64_t occurred_ms, const std::string& channel,
                          v1::EventKind kind, const std::string& member, v1::ActorRole role,
                          uint64_t count) {
  v1::EngagementEvent e;
  e.set_event_id(id);
  e.mutable_occurred_at()->set_seconds(occurred_ms / 1000);
  e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(occurred_ms % 1000) * 1'000'000);
  e.set_channel_id(channel);
  e.set_platform(v1::PLATFORM_FORUM);
  e.set_kind(kind);
  e.set_actor_role(role);
  if (!member.empty()) e.set_member_id(member);
  e.set_count(count);
  e.set_content_type(v1::CONTENT_TYPE_TEXT);
  return e;
}

void WriteEventFile(const std::string& path, const std::vector<v1::EngagementEvent>& events,
                    const std::vector<std::string>& raw) {
  std::string buf;
  for (const auto& e : events) AppendDelimited(buf, e.SerializeAsString());
  for (const auto& r : raw) AppendDelimited(buf, r);
  std::ofstream out(path, std::ios::binary);
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace chorus::testing
