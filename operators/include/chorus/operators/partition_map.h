// PartitionMap: an operator's per-partition state by partition id. A
// std::map owns it (iteration in id order, values that never move), with
// an index by id in front: the processor numbers partitions densely from
// 0, and a tree walk for every event that reaches the state showed in
// profiles. Ids outside the index (negative or very large) still work,
// through the map alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace chorus::ops {

template <typename T>
class PartitionMap {
 public:
  PartitionMap() = default;
  // A copy indexes its own values; a move keeps the map's nodes.
  PartitionMap(const PartitionMap& o) : map_(o.map_) { Reindex(); }
  PartitionMap& operator=(const PartitionMap& o) {
    if (this != &o) {
      map_ = o.map_;
      Reindex();
    }
    return *this;
  }
  PartitionMap(PartitionMap&&) noexcept = default;
  PartitionMap& operator=(PartitionMap&&) noexcept = default;

  // The state of `id`, value-initialized if new.
  T& operator[](int32_t id) {
    if (T* found = FindIndexed(id)) return *found;
    T& value = map_[id];
    Register(id, value);
    return value;
  }
  T* Find(int32_t id) {
    if (Indexed(id)) return FindIndexed(id);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : &it->second;
  }
  const T* Find(int32_t id) const { return const_cast<PartitionMap*>(this)->Find(id); }
  void Erase(int32_t id) {
    if (Indexed(id) && static_cast<size_t>(id) < index_.size()) {
      index_[static_cast<size_t>(id)] = nullptr;
    }
    map_.erase(id);
  }

  auto begin() { return map_.begin(); }
  auto end() { return map_.end(); }
  auto begin() const { return map_.begin(); }
  auto end() const { return map_.end(); }
  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }

 private:
  // Far more partitions than one topic has; beyond, the map alone.
  static constexpr int32_t kIndexed = 1 << 16;
  static bool Indexed(int32_t id) { return id >= 0 && id < kIndexed; }
  void Reindex() {
    index_.clear();
    for (auto& [id, value] : map_) Register(id, value);
  }
  void Register(int32_t id, T& value) {
    if (!Indexed(id)) return;
    if (index_.size() <= static_cast<size_t>(id)) index_.resize(static_cast<size_t>(id) + 1);
    index_[static_cast<size_t>(id)] = &value;
  }
  T* FindIndexed(int32_t id) {
    if (!Indexed(id) || static_cast<size_t>(id) >= index_.size()) return nullptr;
    return index_[static_cast<size_t>(id)];
  }

  std::map<int32_t, T> map_;
  std::vector<T*> index_;  // by id, for ids in [0, kIndexed); null if absent
};

}  // namespace chorus::ops
