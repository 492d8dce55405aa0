// The agent re-applies a drifted rule at most `limit` times per `window`. One
// attempt more and it stops re-applying that rule until the config is reloaded
// or an operator applies the rule by hand: two writers that disagree must not
// rewrite a file forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>

namespace qharden::agent {

class ReapplyLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Verdict { allowed, stopped_now, stopped_before };

  ReapplyLimiter(std::int64_t limit, std::chrono::seconds window)
      : limit_(limit), window_(window) {}

  // Records an attempt when allowed. stopped_now is returned once, so the
  // caller logs the stop exactly once.
  Verdict request(const std::string& rule_id, Clock::time_point now) {
    if (stopped_.contains(rule_id)) return Verdict::stopped_before;
    std::deque<Clock::time_point>& attempts = attempts_[rule_id];
    while (!attempts.empty() && now - attempts.front() >= window_) attempts.pop_front();
    if (static_cast<std::int64_t>(attempts.size()) >= limit_) {
      stopped_.insert(rule_id);
      attempts_.erase(rule_id);
      return Verdict::stopped_now;
    }
    attempts.push_back(now);
    return Verdict::allowed;
  }

  bool stopped(const std::string& rule_id) const { return stopped_.contains(rule_id); }
  const std::set<std::string>& stopped_rules() const { return stopped_; }

  void resume(const std::string& rule_id) {
    stopped_.erase(rule_id);
    attempts_.erase(rule_id);
  }

 private:
  std::int64_t limit_;
  std::chrono::seconds window_;
  std::map<std::string, std::deque<Clock::time_point>> attempts_;
  std::set<std::string> stopped_;
};

}  // namespace qharden::agent
