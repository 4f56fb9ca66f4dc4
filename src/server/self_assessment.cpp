#include "server/self_assessment.hpp"

#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>

#include "base/clock.hpp"
#include "base/utf8.hpp"
#include "crypto/x509.hpp"
#include "exchange/health.hpp"
#include "exchange/registry_store.hpp"
#include "guard/audit_log.hpp"
#include "guard/integrity.hpp"
#include "guard/malware_scanner.hpp"
#include "guard/release.hpp"
#include "guard/syslog_shipper.hpp"
#include "guard/tls_probe.hpp"
#include "server/exchange_roles.hpp"
#include "vault/drill.hpp"
#include "vault/repository.hpp"

namespace tessera::server {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kDay = 86400;

ControlFinding Control(std::string id, std::string zh, std::string en) {
  return ControlFinding{std::move(id), std::move(zh), std::move(en), ControlState::kManual, ""};
}

ControlState FromHealth(exchange::HealthState s) {
  switch (s) {
    case exchange::HealthState::kOk:
      return ControlState::kHolds;
    case exchange::HealthState::kWarning:
      return ControlState::kWarning;
    default:
      return ControlState::kFails;
  }
}

bool RunsExchange(const ServeConfig& c) {
  return !c.exchange.settings.agency.empty() || !c.exchange.settings.center_id.empty();
}

std::string Days(int64_t seconds) {
  return std::to_string(seconds / kDay) + " days";
}

// The registry this host holds, without fetching one.
Result<exchange::Registry> HeldRegistry(const fs::path& home, int64_t now) {
  TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, exchange::HostManagementKey(home));
  return exchange::LoadHostRegistry(home, key, now);
}

// What the settings promise, and, where this host listens for TLS (an exchange center),
// what its port actually accepts: a probe offers each version and each weak kind of suite.
ControlFinding Tls(const ServeConfig& c) {
  ControlFinding f = Control("tls", "傳輸加密 (TLS 版本及加密套件)",
                             "Transport encryption (TLS versions, ciphers)");
  if (!RunsExchange(c) && !c.syslog) {
    f.state = ControlState::kNotApplicable;
    f.evidence = "no exchange role and no syslog shipping is configured on this host";
    return f;
  }
  const bool tls12 = c.exchange.settings.allow_tls12;
  f.state = ControlState::kHolds;
  f.evidence = tls12 ? "settings: TLS 1.3; TLS 1.2 only with forward-secret AEAD suites (ECDHE "
                       "with AES-GCM or ChaCha20-Poly1305) for peers that need it ([exchange] "
                       "allow_tls12)"
                     : "settings: TLS 1.3 only on every exchange connection";
  if (c.syslog) f.evidence += "; the audit log goes to the SOC over TLS (RFC 5425)";
  if (c.exchange.settings.center_id.empty()) return f;
  auto listen = ParseListenAddress(c.exchange.settings.listen);
  if (!listen.ok()) {
    f.state = ControlState::kFails;
    f.evidence += "; [exchange] listen: " + listen.status().message();
    return f;
  }
  std::string host = listen->first;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  auto probe = guard::ProbeTls(host, listen->second, std::chrono::seconds(3));
  if (!probe.ok()) {
    f.state = ControlState::kWarning;
    f.evidence += "; the exchange center's port could not be probed (" + probe.status().message() +
                  "): make the report while `tessera serve` runs";
    return f;
  }
  std::vector<std::string> wrong;
  for (const guard::TlsProbeAttempt& a : probe->attempts) {
    if (!a.accepted) continue;
    if (a.offered == guard::kTls13) continue;
    if (a.offered == guard::kTls12 && tls12) continue;
    wrong.push_back(a.offered + " (" + a.suite + ")");
  }
  if (!wrong.empty()) {
    f.state = ControlState::kFails;
    f.evidence += "; but the exchange center's port also accepts:";
    for (const std::string& w : wrong) f.evidence += " " + w + ";";
    f.evidence.pop_back();
  }
  f.evidence += "; probed: " + probe->Summary();
  return f;
}

ControlFinding MutualTls(const ServeConfig& c, const Result<exchange::Registry>& reg) {
  ControlFinding f =
      Control("mutual-tls", "雙向身分鑑別 (雙向 TLS)", "Mutual authentication (mutual TLS)");
  if (!RunsExchange(c)) {
    f.state = ControlState::kNotApplicable;
    f.evidence = "no exchange role is configured on this host";
    return f;
  }
  auto cert = crypto::Certificate::Load(c.exchange.settings.certificate);
  auto key = crypto::PrivateKey::Load(c.exchange.settings.key, "this host's key");
  if (!cert.ok() || !key.ok() || !key->Matches(*cert)) {
    f.state = ControlState::kFails;
    f.evidence = "this host's certificate and key ([exchange] certificate, key) " +
                 std::string(!cert.ok()  ? "cannot be read: " + cert.status().message()
                             : !key.ok() ? "cannot be read: " + key.status().message()
                                         : "do not belong together");
    return f;
  }
  f.state = ControlState::kHolds;
  f.evidence =
      "every connection presents a certificate, checked before any request is read "
      "against the registry: chained to its trust anchors, registered, unexpired, "
      "unrevoked; this host presents " +
      cert->Subject();
  if (reg.ok())
    f.evidence += "; trust anchors in the registry: " + std::to_string(reg->trust_anchors.size());
  return f;
}

ControlFinding FixedAddresses(const ServeConfig& c, const Result<exchange::Registry>& reg) {
  ControlFinding f = Control("fixed-ip", "連線管制 (固定 IP 白名單、IP 與機關對照表)",
                             "Connection allow-list (fixed IPs, IP-to-agency table)");
  if (!reg.ok()) {
    f.state = RunsExchange(c) ? ControlState::kFails : ControlState::kNotApplicable;
    f.evidence = "no exchange registry can be read here: " + reg.status().message();
    return f;
  }
  size_t fixed = 0;
  std::vector<std::string> missing, ranges;
  for (const exchange::Agency& a : reg->agencies) {
    if (a.addresses.empty()) missing.push_back(a.code);
    for (const std::string& addr : a.addresses)
      (addr.find('/') != std::string::npos ? ranges.push_back(a.code + " " + addr) : (void)++fixed);
  }
  f.state = missing.empty() ? ControlState::kHolds : ControlState::kFails;
  f.evidence = std::to_string(reg->agencies.size()) + " agencies, " + std::to_string(fixed) +
               " fixed addresses (one-to-one), " + std::to_string(ranges.size()) +
               " ranges the registry granted";
  for (const std::string& r : ranges) f.evidence += "; " + r;
  if (!missing.empty()) {
    f.evidence += "; without a registered address:";
    for (const std::string& m : missing) f.evidence += " " + m;
  }
  f.evidence += "; the table: `tessera exchange registry show`";
  return f;
}

ControlFinding RegistryValidity(const ServeConfig& c, const Result<exchange::Registry>& reg,
                                int64_t now) {
  ControlFinding f =
      Control("registry", "註冊資料 (簽章及有效期)", "Signed registry and its validity");
  if (!reg.ok()) {
    f.state = RunsExchange(c) ? ControlState::kFails : ControlState::kNotApplicable;
    f.evidence = reg.status().message();
    return f;
  }
  exchange::HealthCheck h =
      exchange::RegistryHealth(reg->serial, reg->issued_at, reg->expires_at, now);
  f.state = FromHealth(h.state);
  f.evidence = "signature verified with the management center's key; " + h.detail;
  return f;
}

ControlFinding CertificateExpiry(const ServeConfig& c, const Result<exchange::Registry>& reg,
                                 int64_t now) {
  ControlFinding f = Control("certificate", "憑證效期", "Certificate validity");
  if (c.exchange.settings.certificate.empty()) {
    f.state = ControlState::kNotApplicable;
    f.evidence = "this host has no exchange certificate";
    return f;
  }
  auto cert = crypto::Certificate::Load(c.exchange.settings.certificate);
  if (!cert.ok()) {
    f.state = ControlState::kFails;
    f.evidence = cert.status().message();
    return f;
  }
  const std::vector<int> days =
      reg.ok() ? reg->policy.certificate_warning_days : exchange::Policy{}.certificate_warning_days;
  exchange::HealthCheck h = exchange::CertificateHealth(cert->NotAfter(), days, now);
  f.state = FromHealth(h.state);
  f.evidence = cert->Subject() + ": " + h.detail +
               "; agencies' certificates are watched by their center (warnings at " +
               "60/30/7 days, automatic suspension at expiry)";
  return f;
}

// The kernel's NTP state, and, on a gateway host, the skew against its center that the
// latest health check measured (the gateway refuses to sign beyond the registry's limit).
ControlFinding ClockSync(const ServeConfig& c, int64_t now) {
  ControlFinding f = Control("clock", "時間同步", "Time synchronisation");
  timex tx{};
  const int state = ::adjtimex(&tx);
  if (state == -1) {
    f.state = ControlState::kWarning;
    f.evidence = "the kernel's clock state cannot be read here";
  } else if (state != TIME_ERROR && !(tx.status & STA_UNSYNC)) {
    f.state = ControlState::kHolds;
    f.evidence = "the kernel reports its clock synchronised (estimated error " +
                 std::to_string(tx.esterror) + " µs)";
  } else {
    f.state = ControlState::kWarning;
    f.evidence =
        "the kernel reports its clock NOT synchronised: run an NTP client (chrony or "
        "systemd-timesyncd)";
  }
  if (c.exchange.settings.agency.empty()) return f;
  auto recorded = ReadRecordedHealth(c.home);
  const exchange::HealthCheck* clock = nullptr;
  if (recorded.ok())
    for (const exchange::HealthCheck& h : recorded->checks)
      if (h.name == "clock") clock = &h;
  if (clock == nullptr) {
    f.state = std::max(f.state, ControlState::kWarning);
    f.evidence +=
        "; the clock was not yet compared with the center (" +
        (recorded.ok() ? std::string("no clock check recorded") : recorded.status().message()) +
        "): run `tessera exchange health`, or the gateway of `tessera serve`";
    return f;
  }
  const int64_t age = now - recorded->checked_at;
  f.state = std::max(f.state, FromHealth(clock->state));
  if (age > kDay) f.state = std::max(f.state, ControlState::kWarning);
  f.evidence += "; against the exchange center " + std::to_string(std::max<int64_t>(age, 0) / 60) +
                " min ago: " + clock->detail;
  if (age > kDay) f.evidence += " (more than a day ago: is the gateway running?)";
  return f;
}

ControlFinding SocShipping(const ServeConfig& c, int64_t now) {
  ControlFinding f = Control("syslog", "日誌送交資安監控中心 (SOC)", "Logs shipped to the SOC");
  if (!c.syslog) {
    f.state = ControlState::kFails;
    f.evidence = "[guard.syslog] collector is not set: the audit log does not reach a SOC";
    return f;
  }
  int64_t head = 0;
  auto cursors = guard::SyslogShipper::Cursors(c.home, &head);
  if (!cursors.ok()) {
    f.state = ControlState::kFails;
    f.evidence = cursors.status().message();
    return f;
  }
  const guard::ShipperCursor* best = nullptr;
  for (const guard::ShipperCursor& cur : *cursors)
    if (best == nullptr || cur.seq > best->seq) best = &cur;
  if (best == nullptr) {
    f.state = ControlState::kFails;
    f.evidence = "configured for " + c.syslog->collector + ", but nothing has been delivered yet";
    return f;
  }
  const int64_t backlog = head - best->seq;
  const int64_t age = now - best->at;
  f.state = backlog == 0 || age < 3600 ? ControlState::kHolds : ControlState::kFails;
  f.evidence = "to " + best->destination + ": delivered up to record " + std::to_string(best->seq) +
               " of " + std::to_string(head) + " (backlog " + std::to_string(backlog) +
               "), last delivery " + std::to_string(age / 60) +
               " min ago; records carry their sequence number, so gaps are visible";
  return f;
}

ControlFinding AuditChain(const ServeConfig& c) {
  ControlFinding f = Control("audit-chain", "稽核紀錄完整 (雜湊鏈及簽章檢查點)",
                             "Audit log intact (hash chain, signed checkpoints)");
  auto log = guard::AuditLog::Open(c.home);
  auto v = log.ok() ? (*log)->Verify() : Result<guard::AuditVerifyReport>(log.status());
  if (!v.ok()) {
    f.state = ControlState::kFails;
    f.evidence = v.status().message();
    return f;
  }
  if (!v->problems.empty()) {
    f.state = ControlState::kFails;
    f.evidence = std::to_string(v->problems.size()) + " problem(s):";
    for (const std::string& p : v->problems) f.evidence += " " + p + ";";
    return f;
  }
  f.state = v->checkpoints > 0 ? ControlState::kHolds : ControlState::kWarning;
  f.evidence = std::to_string(v->records) + " records, chain intact, " +
               std::to_string(v->checkpoints) + " signed checkpoint(s)" +
               (v->checkpoints > 0 ? ""
                                   : "; sign one (`tessera guard audit checkpoint --out`) and "
                                     "keep it apart, so a log cut short is also seen");
  return f;
}

ControlFinding Integrity(const ServeConfig& c) {
  ControlFinding f = Control("integrity", "入侵及竄改偵測 (檔案完整性)",
                             "Intrusion and tampering detection (file integrity)");
  fs::path baseline = guard::IntegrityBaselinePath(c.home);
  fs::path key = guard::IntegrityPublicKeyPath(c.home);
  if (c.integrity && !c.integrity->watch.baseline.empty()) baseline = c.integrity->watch.baseline;
  if (c.integrity && !c.integrity->watch.key.empty()) key = c.integrity->watch.key;
  auto report = guard::CheckIntegrity(baseline, key, nullptr);
  if (!report.ok()) {
    f.state = ControlState::kFails;
    f.evidence = report.status().message();
    return f;
  }
  if (!report->problems.empty()) {
    f.state = ControlState::kFails;
    f.evidence = report->Outcome();
    return f;
  }
  f.state = c.integrity ? ControlState::kHolds : ControlState::kWarning;
  f.evidence = std::to_string(report->entries) + " entries of " + baseline.string() +
               " as recorded" +
               (c.integrity ? "; `tessera serve` checks them at start, periodically and on change"
                            : "; but no [guard.integrity] watch runs in `tessera serve`");
  return f;
}

ControlFinding MalwareSignatures(const ServeConfig& c, int64_t now) {
  ControlFinding f =
      Control("malware", "惡意程式防護 (病毒碼更新)", "Malware scanning (signature age)");
  const std::string& dir = c.exchange.settings.malware_db;
  if (dir.empty()) {
    f.state =
        c.exchange.settings.agency.empty() ? ControlState::kNotApplicable : ControlState::kFails;
    f.evidence = "no ClamAV signature directory ([exchange] malware_db) is configured";
    return f;
  }
  auto scanner = guard::MalwareScanner::Load(dir);
  if (!scanner.ok()) {
    f.state = ControlState::kFails;
    f.evidence = scanner.status().message();
    return f;
  }
  const guard::SignatureDbInfo& info = (*scanner)->db_info();
  const int64_t age = now - info.newest_at;
  f.state = age <= 7 * kDay    ? ControlState::kHolds
            : age <= 30 * kDay ? ControlState::kWarning
                               : ControlState::kFails;
  f.evidence = std::to_string(info.signatures) + " signatures in " + dir + ", newest " +
               Days(std::max<int64_t>(age, 0)) + " old (" + info.newest_file +
               "); every document and attachment is scanned when sent and when received";
  return f;
}

ControlFinding Release(const ServeConfig& c, const Result<exchange::Registry>& reg) {
  ControlFinding f =
      Control("release", "更版檢核碼驗證 (簽章版本)", "Software release verified (signed, listed)");
  if (!c.release) {
    f.state = ControlState::kWarning;
    f.evidence =
        "[guard.release] is not set: `tessera serve` does not check that this host "
        "runs a signed release listed in the registry";
    return f;
  }
  std::optional<std::vector<std::string>> listed;
  if (reg.ok()) listed = reg->ReleaseHashes();
  guard::InstalledReleaseCheck check =
      guard::CheckInstalledRelease(*c.release, guard::RunningProgram(), listed);
  f.state = check.problems.empty() ? ControlState::kHolds : ControlState::kFails;
  f.evidence = "release " + check.version + ", " + std::to_string(check.files) + " files";
  if (check.problems.empty())
    f.evidence += " as signed" + std::string(reg.ok() ? ", listed in the registry" : "");
  for (const std::string& p : check.problems) f.evidence += "; " + p;
  return f;
}

// The vaults under the home: the newest snapshot of each within the backup policy, and a
// successful restore drill (the KPI of seed 004) within the drill policy.
ControlFinding BackupsAndDrills(const ServeConfig& c, const vault::VaultContext& how, int64_t now) {
  ControlFinding f =
      Control("backup-drills", "備份及還原演練", "Backups and restore drills (RTO/RPO)");
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(c.home / "vaults", ec), end; !ec && it != end; it.increment(ec)) {
    vault::VaultContext probe;
    probe.home = c.home.string();
    probe.name = it->path().filename().string();
    if (fs::exists(probe.ConfigPath(), ec)) names.push_back(probe.name);
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    f.evidence =
        "no vault is set up in this home (`tessera vault init`): answer for the backups kept "
        "otherwise, their restore drills this year and their RTO/RPO";
    return f;
  }
  f.state = ControlState::kHolds;
  const ReportPolicy& policy = c.report;
  for (const std::string& name : names) {
    vault::VaultContext vc = how;
    vc.home = c.home.string();
    vc.name = name;
    std::string evidence = "vault " + name + ": ";
    auto judge = [&](ControlState s, const std::string& why) {
      f.state = std::max(f.state, s);
      evidence += why;
    };
    auto repo = vault::OpenVault(vc);
    auto snapshots =
        repo.ok() ? (*repo)->ListSnapshots() : Result<std::vector<vault::Snapshot>>(repo.status());
    auto drills =
        repo.ok() ? vault::ListDrills(**repo) : Result<vault::DrillHistory>(repo.status());
    if (!snapshots.ok() || !drills.ok()) {
      judge(ControlState::kFails,
            "cannot be read (" + (snapshots.ok() ? drills.status() : snapshots.status()).message() +
                ")");
      f.evidence += (f.evidence.empty() ? "" : "; ") + evidence;
      continue;
    }
    if (snapshots->empty()) {
      judge(ControlState::kFails, "no snapshot");
    } else {
      const int64_t age = now - snapshots->back().time_ns / 1000000000;
      judge(age <= policy.backup_max_age       ? ControlState::kHolds
            : age <= 4 * policy.backup_max_age ? ControlState::kWarning
                                               : ControlState::kFails,
            std::to_string(snapshots->size()) + " snapshot(s), the newest " +
                vault::FormatDuration(std::max<int64_t>(age, 0)) +
                " old (policy: " + vault::FormatDuration(policy.backup_max_age) + ")");
    }
    const vault::DrillReport* passed = nullptr;
    for (const vault::DrillReport& r : drills->reports)
      if (r.passed) passed = &r;
    if (passed == nullptr) {
      judge(ControlState::kFails, ", no successful restore drill recorded");
    } else {
      const int64_t age = now - passed->started_ns / 1000000000;
      judge(age <= policy.drill_max_age ? ControlState::kHolds : ControlState::kFails,
            ", the last successful drill " + vault::FormatDuration(std::max<int64_t>(age, 0)) +
                " ago (" + passed->id + ", RTO " +
                (passed->rto_seconds
                     ? std::to_string(static_cast<int64_t>(*passed->rto_seconds)) + " s"
                     : std::string("?")) +
                ", RPO " +
                (passed->rpo_seconds ? vault::FormatDuration(*passed->rpo_seconds) : "?") +
                "; policy: one within " + vault::FormatDuration(policy.drill_max_age) + ")");
      if (&drills->reports.back() != passed)
        judge(ControlState::kWarning,
              ", but a later drill failed: " + drills->reports.back().reason);
    }
    const int year = vault::LocalYear(static_cast<int64_t>(now) * 1000000000);
    auto y = drills->per_year.find(year);
    evidence += "; drills in " + std::to_string(year) + ": " +
                std::to_string(y == drills->per_year.end() ? 0 : y->second.passed) + " passed, " +
                std::to_string(y == drills->per_year.end() ? 0 : y->second.failed) + " failed";
    f.evidence += (f.evidence.empty() ? "" : "; ") + evidence;
  }
  return f;
}

ControlFinding Manual(std::string id, std::string zh, std::string en, std::string what) {
  ControlFinding f = Control(std::move(id), std::move(zh), std::move(en));
  f.evidence = std::move(what);
  return f;
}

std::string StateLabel(ControlState s) {
  switch (s) {
    case ControlState::kHolds:
      return "符合 holds";
    case ControlState::kWarning:
      return "注意 warning";
    case ControlState::kFails:
      return "不符合 fails";
    case ControlState::kNotApplicable:
      return "不適用 n/a";
    case ControlState::kManual:
      break;
  }
  return "待填 to answer";
}

}  // namespace

std::string_view ControlStateName(ControlState s) {
  switch (s) {
    case ControlState::kHolds:
      return "holds";
    case ControlState::kWarning:
      return "warning";
    case ControlState::kFails:
      return "fails";
    case ControlState::kNotApplicable:
      return "not-applicable";
    case ControlState::kManual:
      break;
  }
  return "manual";
}

size_t SelfAssessment::Count(ControlState s) const {
  return static_cast<size_t>(std::count_if(controls.begin(), controls.end(),
                                           [s](const ControlFinding& f) { return f.state == s; }));
}

nlohmann::json SelfAssessment::ToJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const ControlFinding& f : controls)
    list.push_back({{"id", f.id},
                    {"title_zh", f.title_zh},
                    {"title_en", f.title_en},
                    {"state", ControlStateName(f.state)},
                    {"evidence", f.evidence}});
  nlohmann::json counts;
  for (ControlState s : {ControlState::kHolds, ControlState::kWarning, ControlState::kFails,
                         ControlState::kNotApplicable, ControlState::kManual})
    counts[std::string(ControlStateName(s))] = Count(s);
  return {{"generated_at", FormatRfc3339(generated_at * 1000000000)},
          {"host", host},
          {"home", home},
          {"counts", counts},
          {"controls", list}};
}

std::string SelfAssessment::ToHtml() const {
  std::string rows;
  for (const ControlFinding& f : controls)
    rows += "<tr class=\"" + std::string(ControlStateName(f.state)) + "\"><td>" +
            HtmlEscape(f.title_zh) + "<br><small>" + HtmlEscape(f.title_en) + "</small></td><td>" +
            HtmlEscape(StateLabel(f.state)) + "</td><td>" + HtmlEscape(f.evidence) + "</td></tr>\n";
  return "<!DOCTYPE html>\n<html lang=\"zh-TW\"><head><meta charset=\"utf-8\">"
         "<title>公文電子交換系統資訊安全自評表 Self-assessment</title><style>"
         "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
         "td,th{border:1px solid #999;padding:.4em;vertical-align:top;text-align:left}"
         "tr.fails td:nth-child(2){color:#a00;font-weight:bold}"
         "tr.warning td:nth-child(2){color:#a60}tr.holds td:nth-child(2){color:#060}"
         "@page{size:A4;margin:15mm}</style></head><body>\n"
         "<h1>公文電子交換系統資訊安全自評表<br><small>Self-assessment of the security "
         "controls</small></h1>\n<p>主機 Host: " +
         HtmlEscape(host) +
         "<br>產生時間 Generated: " + HtmlEscape(FormatRfc3339(generated_at * 1000000000)) +
         "<br>符合 " + std::to_string(Count(ControlState::kHolds)) + "、注意 " +
         std::to_string(Count(ControlState::kWarning)) + "、不符合 " +
         std::to_string(Count(ControlState::kFails)) + "、待填 " +
         std::to_string(Count(ControlState::kManual)) +
         "</p>\n<table><tr><th>控制項 Control</th><th>結果 Result</th><th>佐證 "
         "Evidence</th></tr>\n" +
         rows + "</table>\n</body></html>\n";
}

SelfAssessment AssessControls(const ServeConfig& config, int64_t now,
                              const vault::VaultContext& vault_context) {
  SelfAssessment a;
  a.generated_at = now;
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) == 0) a.host = name;
  a.home = fs::absolute(config.home).string();
  const Result<exchange::Registry> reg = HeldRegistry(config.home, now);
  a.controls = {
      Tls(config),
      MutualTls(config, reg),
      FixedAddresses(config, reg),
      RegistryValidity(config, reg, now),
      CertificateExpiry(config, reg, now),
      ClockSync(config, now),
      SocShipping(config, now),
      AuditChain(config),
      Integrity(config),
      MalwareSignatures(config, now),
      Release(config, reg),
      BackupsAndDrills(config, vault_context, now),
      Manual("physical", "機房實體安全", "Physical security of the machine room",
             "access control, CCTV and environment of the room the hosts are in"),
      Manual("personnel", "人員資安教育訓練", "Security training of staff",
             "training hours of the system's operators and users this year"),
      Manual("incident", "資安事件通報及應變", "Incident reporting and response",
             "the reporting procedure, contacts, and the incidents of this year"),
      Manual("accounts", "帳號及權限定期審查", "Periodic review of accounts and rights",
             "when the operators' accounts and roles were last reviewed"),
      Manual("audit-plan", "納入年度資安稽核計畫", "In the yearly security audit plan",
             "the audit plan that covers this system, and last year's findings and fixes"),
  };
  return a;
}

}  // namespace tessera::server
