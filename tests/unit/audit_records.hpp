// The audit log as the console tests read it back: what an action recorded.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "guard/audit_log.hpp"
#include "status_matchers.hpp"

namespace tessera {

// Every record of the audit log under `home`, oldest first; a log that cannot be read fails
// the test and gives none.
inline std::vector<guard::AuditRecord> ReadAuditLog(const std::filesystem::path& home) {
  auto log = guard::AuditLog::Open(home);
  EXPECT_OK(log);
  if (!log.ok()) return {};
  auto records = (*log)->Read(std::nullopt);
  EXPECT_OK(records);
  return records.ok() ? *records : std::vector<guard::AuditRecord>{};
}

// How many records of `actor` doing `action` have `outcome_part` in their outcome.
inline size_t CountAudit(const std::filesystem::path& home, const std::string& actor,
                         const std::string& action, const std::string& outcome_part) {
  size_t n = 0;
  for (const auto& r : ReadAuditLog(home))
    if (r.actor == actor && r.action == action && r.outcome.find(outcome_part) != std::string::npos)
      ++n;
  return n;
}

}  // namespace tessera
