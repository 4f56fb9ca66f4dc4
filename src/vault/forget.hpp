// Forgetting snapshots: a retention policy like restic's decides which snapshots of each
// group (same host and same set of paths) to keep, and the others' snapshot objects are
// deleted. Forgetting frees no space by itself: the data stays until `Prune` finds it
// unused. All calendar rules (hour, day, ISO week, month, year) are evaluated in UTC, so
// the outcome does not depend on the time zone of the machine that runs it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vault/repository.hpp"

namespace tessera::vault {

// A calendar span such as "1y2m" (years, months, days, hours: y, m, d, h).
struct RetentionSpan {
  int years = 0, months = 0, days = 0, hours = 0;
  bool zero() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
  std::string ToString() const;  // "1y2m", "0h" when zero
};
// InvalidArgument unless `text` is one or more <number><unit> with units y, m, d, h.
Result<RetentionSpan> ParseRetentionSpan(std::string_view text);
// `t_ns` moved back by the span with calendar arithmetic in UTC (a month back from March 31
// is "February 31", which is March 3 or 2, as Go's AddDate and restic count).
int64_t SubtractSpan(int64_t t_ns, const RetentionSpan& span);

// Counts: 0 is "rule off", a positive N keeps N, -1 keeps every one (unlimited).
struct RetentionPolicy {
  int last = 0;     // the N newest snapshots
  int hourly = 0;   // the newest snapshot of each of the N newest hours that have one
  int daily = 0;    // ... days
  int weekly = 0;   // ... ISO weeks (Monday to Sunday)
  int monthly = 0;  // ... months
  int yearly = 0;   // ... years
  // Every snapshot at most this much older than the group's newest snapshot (or than
  // `now`, if the newest is dated in the future). Measured from the newest snapshot, not
  // from now, so that a vault whose backups stopped does not lose its last snapshots.
  RetentionSpan within;
  std::vector<std::string> tags;  // every snapshot that has one of these tags

  // True when no rule is set: applying it would remove everything, so it is refused.
  bool Empty() const;
};

// The snapshots of one host and set of paths.
struct SnapshotGroup {
  std::string hostname;
  std::vector<std::string> paths;      // sorted
  std::vector<Snapshot> keep, remove;  // oldest first
};

struct PolicyResult {
  std::vector<SnapshotGroup> groups;   // ordered by host, then paths
  std::vector<Snapshot> keep, remove;  // all groups, oldest first
  // Snapshot id to why it is kept ("daily snapshot", "tagged 'x'", ...) or removed.
  std::map<std::string, std::vector<std::string>> reasons;
};

// Decides, for each group, which snapshots the policy keeps; every other one is removed.
// Pure: no I/O; `now_ns` (Unix nanoseconds) only caps the reference time of `within`.
// Snapshots are told apart by id, so their ids must differ.
// InvalidArgument for an empty policy or a count below -1.
Result<PolicyResult> ApplyPolicy(const std::vector<Snapshot>& snapshots,
                                 const RetentionPolicy& policy, int64_t now_ns);

struct ForgetOptions {
  RetentionPolicy policy;
  // Snapshots to forget by id (full, unique prefix of at least 4 hex digits, or
  // "latest"); when given, the policy must be empty.
  std::vector<std::string> ids;
  bool dry_run = false;  // decide and report, delete nothing
};

// What was (or, in a dry run, would be) forgotten; `removed` counts deleted objects.
struct ForgetResult {
  PolicyResult plan;
  size_t removed = 0;
  bool dry_run = false;
};

// Lists the snapshots, applies the policy (or resolves the ids) and deletes the snapshot
// objects of those removed. Holds a shared vault lock meanwhile, so it never runs during
// a prune. InvalidArgument for an empty policy with no ids, ids mixed with a policy, or an
// unknown or ambiguous id (nothing is deleted then).
Result<ForgetResult> Forget(Repository& repo, const ForgetOptions& options, int64_t now_ns);

}  // namespace tessera::vault
