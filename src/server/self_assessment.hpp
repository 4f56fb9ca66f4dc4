// `tessera guard report`: the yearly self-assessment (資訊安全自評, seed 002 appendix 1) of
// the security regulation's technical controls, taken from this installation's settings
// and state rather than filled in by hand. Each control tessera can observe is judged with
// the evidence seen; those it cannot (physical security, training, procedures) are listed
// for a person to answer. Observing changes nothing but the audit log, which records that a
// report was made; it needs no network except to read the vaults' stores. Where a live
// measurement is needed (the clock against the exchange center), it reads the latest one
// the gateway recorded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/serve.hpp"
#include "vault/vault.hpp"

namespace tessera::server {

enum class ControlState {
  kHolds,          // observed and in order
  kWarning,        // observed; in order now, but needs attention soon or is weaker than advised
  kFails,          // observed and not in order
  kNotApplicable,  // the role it concerns does not run here
  kManual,         // tessera cannot observe it: a person answers
};
std::string_view ControlStateName(ControlState s);  // "holds", "warning", ...

struct ControlFinding {
  std::string id;        // stable: "tls", "audit-chain", ...
  std::string title_zh;  // as officials name it
  std::string title_en;
  ControlState state = ControlState::kManual;
  std::string evidence;  // what was observed, or what a person must answer
};

struct SelfAssessment {
  int64_t generated_at = 0;  // Unix seconds
  std::string host;
  std::string home;
  std::vector<ControlFinding> controls;
  size_t Count(ControlState s) const;
  nlohmann::json ToJson() const;
  // A self-contained page (no scripts, no remote content), Traditional Chinese first, that
  // prints on A4.
  std::string ToHtml() const;
};

// Observes every control for the installation `config` describes (its home and the
// settings file's tables). The vaults under the home are opened as `vault_context` says
// (passphrase, store options; its home and name are set for each), which reaches their
// stores: the only part of the report that may use the network.
SelfAssessment AssessControls(const ServeConfig& config, int64_t now,
                              const vault::VaultContext& vault_context);

}  // namespace tessera::server
