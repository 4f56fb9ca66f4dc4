// Restore drills (還原演練): a rehearsed disaster recovery whose report is the evidence the
// plan asks for. A drill treats some stores as gone, rebuilds the master key from the
// descriptors of exactly k of the others (never from the local key file), restores a
// snapshot to a scratch directory, checks every restored entry against the snapshot and
// records a report with RTO, RPO and the result: in the vault (object drills/<id>) and
// under HOME/drills/ as <id>.json and <id>.html. The count of successful drills per
// calendar year is the plan's KPI.
#pragma once

#include "base/utf8.hpp"  // HtmlEscape

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "base/status.hpp"
#include "vault/repository.hpp"
#include "vault/vault.hpp"

namespace tessera::vault {

// Reports beyond this many failures only count them.
constexpr size_t kMaxDrillFailures = 100;

struct DrillOptions {
  std::string snapshot = "latest";  // "latest", an id or a unique prefix
  std::vector<int> lose;            // stores (0-based) to treat as gone: never touched
  // Stores (0-based) the drill may use; empty: any not lost. Exactly k of them are used,
  // those that answer first in index order.
  std::vector<int> use;
  // Where to restore: a new or empty directory. Empty: HOME/drills/scratch-<id>.
  std::string scratch;
  bool keep = false;  // keep the restored tree (else it is removed, pass or fail)
  // For vaults with custodians. None given: the custodian key of the local key file stands
  // in, and the report says so.
  std::vector<std::string> recovery_codes;
  Progress* progress = nullptr;                     // restore progress, may be null
  std::function<void(const std::string&)> on_step;  // announces each step, may be empty
};

struct DrillStore {
  int index = 0;  // 0-based
  std::string url;
  std::string error;  // why it could not be used, for unreachable stores
};

struct DrillFailure {
  std::string phase;  // "select", "open", "find", "restore", "verify"
  std::string path;   // the entry concerned, or empty
  std::string reason;
};

struct DrillPhase {
  std::string name;
  double seconds = 0;
  bool ok = false;
};

struct DrillReport {
  std::string id;  // "20260115T093000Z-1a2b3c4d": sorts by start time
  int64_t started_ns = 0, finished_ns = 0;
  std::string hostname, operator_name, tessera_version;
  std::string vault_id;
  int k = 0, n = 0;

  std::string snapshot_ref;  // as asked
  std::string snapshot_id;   // empty when it was never found
  int64_t snapshot_time_ns = 0;
  std::string snapshot_host;
  std::vector<std::string> snapshot_paths;

  std::vector<DrillStore> stores_used, stores_lost, stores_unreachable;
  std::string key_source;  // how the master key was rebuilt, for people
  bool custodian_key_from_key_file = false;

  uint64_t files = 0, dirs = 0, symlinks = 0, bytes = 0;  // restored
  uint64_t files_verified = 0, bytes_verified = 0, dirs_verified = 0, symlinks_verified = 0;
  uint64_t skipped = 0;  // special files (devices, FIFOs), which restores do not recreate
  uint64_t failure_count = 0;
  std::vector<DrillFailure> failures;  // the first kMaxDrillFailures
  std::vector<DrillPhase> phases;      // in order; "open" to "verify" make up the RTO

  bool passed = false;
  std::string reason;                  // why it failed, in one line
  std::optional<double> rto_seconds;   // only when the restore was completed and verified
  std::optional<int64_t> rpo_seconds;  // drill start - snapshot time, once the snapshot is known
  std::vector<std::string> warnings, notes;

  std::string scratch;
  bool scratch_kept = false;

  // Where the report was kept; set by RunDrill as it records it.
  bool recorded_in_vault = false;
  std::string vault_record_error;
  std::string json_path, html_path;
};

// Runs a drill and records its report. A failed drill is a report with passed == false, not
// an error; errors are for drills that cannot start (no local configuration, stores that do
// not exist, lost and used stores overlapping, a scratch directory that is not empty).
Result<DrillReport> RunDrill(const VaultContext& ctx, const DrillOptions& options);

nlohmann::json DrillReportToJson(const DrillReport& r);
// Corruption when `j` is not a drill report.
Result<DrillReport> DrillReportFromJson(const nlohmann::json& j);
// A self-contained page, Traditional Chinese first with English; every text is escaped.
std::string DrillReportHtml(const DrillReport& r);

struct DrillYear {
  int passed = 0, failed = 0;
};
struct DrillHistory {
  std::vector<DrillReport> reports;     // oldest first
  std::map<int, DrillYear> per_year;    // by calendar year (local time) of the drill's start
  std::vector<std::string> unreadable;  // objects under drills/ that could not be read, and why
};
// Every report recorded in the vault.
Result<DrillHistory> ListDrills(Repository& repo);
// A self-contained page listing the drills and the successful drills per year.
std::string DrillHistoryHtml(const DrillHistory& h, const std::string& vault_id);

// Calendar year of a time in the machine's local time zone (a drill on 31 December at
// 20:00 UTC counts for the next year in Taipei).
int LocalYear(int64_t unix_ns);
// For people: "2026-01-15 17:30:00 +0800" (local time), "3 d 4 h" / "2 h 5 min" / "12 s".
std::string FormatLocalTime(int64_t unix_ns);
std::string FormatDuration(int64_t seconds);

}  // namespace tessera::vault
