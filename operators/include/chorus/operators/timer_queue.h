// TimerQueue: the min-priority queue of the operators' timers (thread
// horizons and reply candidates, post maturities): hundreds of thousands of
// them, pushed roughly in due order and popped in due order as the
// watermark passes. One binary heap that large misses the cache at nearly
// every level of every pop. Here only the timers of the earliest span of
// 2^16 ms (~65 s) form a heap, small enough to stay in cache; later ones
// are appended to their span's vector, which becomes the heap when its
// span is the earliest. Pops come in exactly a single heap's order.
//
// T has an int64_t `due_ms` and an operator> that is a total order with
// due_ms as its first key.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <vector>

namespace chorus::ops {

template <typename T>
class TimerQueue {
 public:
  void push(const T& x) {
    const int64_t span = SpanOf(x.due_ms);
    if (span <= front_span_) {
      front_.push_back(x);
      std::push_heap(front_.begin(), front_.end(), std::greater<>());
      return;
    }
    // Pushes mostly go to the span the last one went to.
    if (span != last_span_ || last_ == nullptr) {
      last_ = &later_[span];
      last_span_ = span;
    }
    last_->push_back(x);
    ++later_size_;
    if (front_.empty()) Refill();
  }
  // REQUIRES: !empty().
  const T& top() const { return front_.front(); }
  void pop() {
    std::pop_heap(front_.begin(), front_.end(), std::greater<>());
    front_.pop_back();
    if (front_.empty() && !later_.empty()) Refill();
  }
  // The front heap is empty only when every span is.
  bool empty() const { return front_.empty(); }
  // Pops every timer due at or before `until` into `out` (cleared first), in
  // pop order.
  void PopDue(int64_t until, std::vector<T>& out) {
    out.clear();
    while (!empty() && top().due_ms <= until) {
      out.push_back(top());
      pop();
    }
  }
  // Pops the timers due at or before `until` (into `buffer`, as PopDue) and
  // calls handle(timer) for each in pop order, having called load(timer)
  // kLookAhead timers before: handling looks up what a timer names, in
  // tables of up to ~100 MB where each lookup would otherwise miss. Timers
  // handle() pushes must be due after `until`.
  static constexpr size_t kLookAhead = 8;
  template <typename Load, typename Handle>
  void ForEachDue(int64_t until, std::vector<T>& buffer, Load&& load, Handle&& handle) {
    ForEachDue(
        until, buffer, load, [](const T&) {}, handle);
  }
  // The same with a second step, load_next(timer), kNextAhead timers before
  // handle(timer): for what the first step's lookup leads to.
  static constexpr size_t kNextAhead = 4;
  template <typename Load, typename LoadNext, typename Handle>
  void ForEachDue(int64_t until, std::vector<T>& buffer, Load&& load, LoadNext&& load_next,
                  Handle&& handle) {
    PopDue(until, buffer);
    for (size_t i = 0; i < std::min(kLookAhead, buffer.size()); ++i) load(buffer[i]);
    for (size_t i = 0; i < std::min(kNextAhead, buffer.size()); ++i) load_next(buffer[i]);
    for (size_t i = 0; i < buffer.size(); ++i) {
      if (i + kLookAhead < buffer.size()) load(buffer[i + kLookAhead]);
      if (i + kNextAhead < buffer.size()) load_next(buffer[i + kNextAhead]);
      handle(buffer[i]);
    }
  }
  size_t size() const { return front_.size() + later_size_; }

 private:
  static int64_t SpanOf(int64_t ms) { return ms >> 16; }  // floors negative times too

  // Makes the earliest later span the front. REQUIRES: front_ empty.
  void Refill() {
    auto first = later_.begin();
    front_span_ = first->first;
    front_.swap(first->second);
    later_size_ -= front_.size();
    if (last_ == &first->second) last_ = nullptr;
    later_.erase(first);
    std::make_heap(front_.begin(), front_.end(), std::greater<>());
  }

  std::vector<T> front_;  // a heap of every timer whose span is at most front_span_
  int64_t front_span_ = std::numeric_limits<int64_t>::min();
  std::map<int64_t, std::vector<T>> later_;  // by span, each after front_span_
  std::vector<T>* last_ = nullptr;           // later_[last_span_], if not null
  int64_t last_span_ = 0;
  size_t later_size_ = 0;
};

}  // namespace chorus::ops
