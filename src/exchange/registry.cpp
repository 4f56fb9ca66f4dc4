#include "exchange/registry.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/json_fields.hpp"
#include "base/utf8.hpp"
#include "crypto/hash.hpp"
#include "crypto/x509.hpp"

namespace tessera::exchange {

using nlohmann::json;

namespace {

constexpr char kWireFormat[] = "tessera-registry-signed";
constexpr int kWireVersion = 1;
constexpr int kRegistryVersion = 1;

// --- addresses ------------------------------------------------------------------------

// An address as 16 bytes; IPv4 (and IPv4-mapped IPv6) uses the first 4.
struct Ip {
  bool v4 = false;
  std::array<uint8_t, 16> bytes{};
  size_t size() const { return v4 ? 4 : 16; }
  bool operator==(const Ip& o) const {
    return v4 == o.v4 && std::memcmp(bytes.data(), o.bytes.data(), size()) == 0;
  }
};

std::optional<Ip> ParseIp(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  Ip ip;
  if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
    ip.v4 = true;
    return ip;
  }
  if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) != 1) return std::nullopt;
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(ip.bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0) {
    // One host, two spellings: a dual-stack socket reports IPv4 peers this way.
    std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
    std::fill(ip.bytes.begin() + 4, ip.bytes.end(), 0);
    ip.v4 = true;
  }
  return ip;
}

std::string IpText(const Ip& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(ip.v4 ? AF_INET : AF_INET6, ip.bytes.data(), buf, sizeof buf);
  return buf;
}

struct Range {
  Ip base;
  int prefix = 0;
  bool Contains(const Ip& ip) const {
    if (ip.v4 != base.v4) return false;
    const int whole = prefix / 8;
    if (std::memcmp(ip.bytes.data(), base.bytes.data(), static_cast<size_t>(whole)) != 0)
      return false;
    const int rest = prefix % 8;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (ip.bytes[whole] & mask) == (base.bytes[whole] & mask);
  }
};

Result<Range> ParseRange(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos)
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a range: write it as ADDRESS/PREFIX, e.g. "
                                   "10.8.0.0/24");
  const std::string_view address = text.substr(0, slash);
  const std::string_view bits = text.substr(slash + 1);
  std::optional<Ip> base = ParseIp(address);
  if (!base)
    return Status::InvalidArgument("'" + std::string(text) + "' is not a range: '" +
                                   std::string(address) + "' is not an IP address");
  const bool written_v6 = address.find(':') != std::string_view::npos;
  const int max_prefix = written_v6 ? 128 : 32;
  int prefix = -1;
  if (!bits.empty() && bits.size() <= 3 &&
      std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    prefix = std::stoi(std::string(bits));
  if (prefix < 0 || prefix > max_prefix)
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a range: the prefix must be 0 to " +
                                   std::to_string(max_prefix));
  if (written_v6 && base->v4) {
    // "::ffff:10.8.0.0/120" is 10.8.0.0/24; a shorter prefix reaches beyond IPv4.
    if (prefix < 96)
      return Status::InvalidArgument("'" + std::string(text) +
                                     "' mixes IPv4-mapped and other IPv6 addresses: write the "
                                     "IPv4 range itself");
    prefix -= 96;
  }
  Range r{*base, prefix};
  Range exact = r;
  for (size_t i = 0; i < r.base.size(); ++i) {
    const int from = static_cast<int>(i) * 8;
    if (from >= prefix)
      exact.base.bytes[i] = 0;
    else if (from + 8 > prefix)
      exact.base.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (prefix - from)));
  }
  if (!(exact.base == r.base))
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' has address bits set beyond the prefix: write " +
                                   IpText(exact.base) + "/" + std::to_string(prefix));
  return r;
}

bool IsRangeText(std::string_view text) {
  return text.find('/') != std::string_view::npos;
}

bool MatchesAddress(std::string_view entry, const Ip& ip, bool ranges_allowed) {
  if (IsRangeText(entry)) {
    if (!ranges_allowed) return false;
    Result<Range> r = ParseRange(entry);
    return r.ok() && r->Contains(ip);
  }
  std::optional<Ip> fixed = ParseIp(entry);
  return fixed && *fixed == ip;
}

// --- JSON -----------------------------------------------------------------------------

// Readers that throw std::invalid_argument naming the field; RegistryFromJson turns that
// into Corruption. Absent fields take their defaults: a newer publisher may add fields,
// and an older one may not know them all.
const json& ObjectAt(const json& j, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + " is not an object");
  return j;
}

std::string Str(const json& o, const char* key, const std::string& where, bool required = false) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    if (required) throw std::invalid_argument(where + key + " is missing");
    return "";
  }
  if (!it->is_string()) throw std::invalid_argument(where + key + " is not a string");
  return it->get<std::string>();
}

std::vector<std::string> StrList(const json& o, const char* key, const std::string& where) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return out;
  if (!it->is_array()) throw std::invalid_argument(where + key + " is not an array");
  for (const auto& v : *it) {
    if (!v.is_string()) throw std::invalid_argument(where + key + " holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool Bool(const json& o, const char* key, const std::string& where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw std::invalid_argument(where + key + " is not true or false");
  return it->get<bool>();
}

// The array of objects at `key` (empty when absent), each read by `read`.
template <typename T, typename Read>
std::vector<T> ObjectList(const json& o, const char* key, Read read) {
  std::vector<T> out;
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return out;
  if (!it->is_array()) throw std::invalid_argument(std::string(key) + " is not an array");
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string where = std::string(key) + "[" + std::to_string(i) + "].";
    out.push_back(read(ObjectAt((*it)[i], where), where));
  }
  return out;
}

json PolicyJson(const Policy& p) {
  return {{"max_clock_skew_seconds", p.max_clock_skew_seconds},
          {"max_message_bytes", p.max_message_bytes},
          {"certificate_warning_days", p.certificate_warning_days},
          {"delivery_expiry_seconds", p.delivery_expiry_seconds},
          {"registry_validity_seconds", p.registry_validity_seconds},
          {"registry_poll_seconds", p.registry_poll_seconds}};
}

Policy PolicyFrom(const json& o) {
  ObjectAt(o, "policy");
  Policy p;
  p.max_clock_skew_seconds =
      OptionalInt<int64_t>(o, "max_clock_skew_seconds", p.max_clock_skew_seconds);
  p.max_message_bytes = OptionalInt<uint64_t>(o, "max_message_bytes", p.max_message_bytes);
  if (auto it = o.find("certificate_warning_days"); it != o.end())
    p.certificate_warning_days = IntArray<int>(*it, "policy.certificate_warning_days");
  p.delivery_expiry_seconds =
      OptionalInt<int64_t>(o, "delivery_expiry_seconds", p.delivery_expiry_seconds);
  p.registry_validity_seconds =
      OptionalInt<int64_t>(o, "registry_validity_seconds", p.registry_validity_seconds);
  p.registry_poll_seconds =
      OptionalInt<int64_t>(o, "registry_poll_seconds", p.registry_poll_seconds);
  return p;
}

json SuspensionJson(const Suspension& s) {
  return {{"reason", s.reason}, {"note", s.note}, {"by", s.by}, {"at", s.at}};
}

Agency AgencyFrom(const json& o, const std::string& where) {
  Agency a;
  a.code = Str(o, "code", where, true);
  a.name = Str(o, "name", where);
  a.home_center = Str(o, "home_center", where);
  a.group = Str(o, "group", where);
  a.certificates = StrList(o, "certificates", where);
  a.addresses = StrList(o, "addresses", where);
  a.ranges_allowed = Bool(o, "ranges_allowed", where);
  if (auto it = o.find("suspension"); it != o.end() && !it->is_null()) {
    const json& s = ObjectAt(*it, where + "suspension");
    Suspension sus;
    sus.reason = Str(s, "reason", where + "suspension.", true);
    sus.note = Str(s, "note", where + "suspension.");
    sus.by = Str(s, "by", where + "suspension.");
    sus.at = OptionalInt<int64_t>(s, "at", 0);
    a.suspension = sus;
  }
  return a;
}

Center CenterFrom(const json& o, const std::string& where) {
  Center c;
  c.id = Str(o, "id", where, true);
  c.url = Str(o, "url", where);
  c.addresses = StrList(o, "addresses", where);
  c.certificates = StrList(o, "certificates", where);
  return c;
}

AgencyGroup GroupFrom(const json& o, const std::string& where) {
  AgencyGroup g;
  g.name = Str(o, "name", where, true);
  g.vpn_ranges = StrList(o, "vpn_ranges", where);
  return g;
}

ReleaseHash ReleaseFrom(const json& o, const std::string& where) {
  ReleaseHash r;
  r.version = Str(o, "version", where, true);
  r.sha256 = Str(o, "sha256", where, true);
  return r;
}

// --- validation -----------------------------------------------------------------------

bool IsLowerHex(std::string_view s, size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A code or id travels in URLs, file names and log lines: printable ASCII, no spaces.
bool IsToken(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

struct Checker {
  std::vector<std::string> problems;
  // fingerprint → who registered it, to find one certificate registered twice.
  std::map<std::string, std::string> owners;

  void Add(std::string p) { problems.push_back(std::move(p)); }

  void Certificates(const std::vector<std::string>& pems, const std::string& who) {
    for (size_t i = 0; i < pems.size(); ++i) {
      const std::string which = who + " certificate " + std::to_string(i + 1);
      Result<CertificateSummary> c = SummarizeCertificate(pems[i]);
      if (!c.ok()) {
        Add(which + ": " + c.status().message());
        continue;
      }
      if (!c->key_policy.ok()) Add(which + " (" + c->fingerprint + "): " + c->key_policy.message());
      auto [it, inserted] = owners.emplace(c->fingerprint, who);
      if (!inserted)
        Add(which + " (" + c->fingerprint + ") is also registered to " + it->second +
            ": a certificate identifies one party only");
    }
  }

  void FixedAddresses(const std::vector<std::string>& addresses, const std::string& who) {
    for (const auto& a : addresses)
      if (IsRangeText(a))
        Add(who + ": '" + a + "' is a range; only fixed addresses are registered here");
      else if (Status st = CheckAddress(a); !st.ok())
        Add(who + ": " + st.message());
  }
};

void CheckPolicy(const Policy& p, Checker& check) {
  auto out_of = [&](const char* what, int64_t v, int64_t lo, int64_t hi, const char* unit) {
    if (v < lo || v > hi)
      check.Add("policy: " + std::string(what) + " is " + std::to_string(v) + unit +
                "; it must be from " + std::to_string(lo) + " to " + std::to_string(hi) + unit);
  };
  out_of("max_clock_skew_seconds", p.max_clock_skew_seconds, 1, 3600, " s");
  // Past 2 GiB libclamav cannot scan a document whole, and the gateways refuse it.
  if (p.max_message_bytes < 1024 || p.max_message_bytes > kMaxPolicyMessageBytes)
    check.Add("policy: max_message_bytes is " + std::to_string(p.max_message_bytes) +
              "; it must be from 1 KiB to 2 GiB (the most a malware scan covers)");
  for (int d : p.certificate_warning_days) out_of("a certificate warning", d, 1, 366, " days");
  // Seconds are allowed for trials and drills of the expiry; `policy set` warns about them.
  out_of("delivery_expiry_seconds", p.delivery_expiry_seconds, 1, 366 * 86400, " s");
  out_of("registry_validity_seconds", p.registry_validity_seconds, 600, 31 * 86400, " s");
  // Hosts must get at least two tries at fetching before the copy they hold expires.
  if (p.registry_poll_seconds < 10 || p.registry_poll_seconds * 2 > p.registry_validity_seconds)
    check.Add("policy: registry_poll_seconds is " + std::to_string(p.registry_poll_seconds) +
              " s; it must be at least 10 s and at most half of registry_validity_seconds (" +
              std::to_string(p.registry_validity_seconds / 2) + " s)");
}

}  // namespace

// --- the model ------------------------------------------------------------------------

std::vector<std::string> SuspensionReasonCodes() {
  return {"certificate-expired", "certificate-lost",
          "security-incident",   "malware",
          "refused-audit",       "other"};
}

std::vector<std::string> Registry::ReleaseHashes() const {
  std::vector<std::string> out;
  for (const ReleaseHash& h : releases) out.push_back(h.sha256);
  return out;
}

const Agency* Registry::FindAgency(std::string_view code) const {
  for (const auto& a : agencies)
    if (a.code == code) return &a;
  return nullptr;
}

const Center* Registry::FindCenter(std::string_view id) const {
  for (const auto& c : centers)
    if (c.id == id) return &c;
  return nullptr;
}

const AgencyGroup* Registry::FindGroup(std::string_view name) const {
  for (const auto& g : groups)
    if (g.name == name) return &g;
  return nullptr;
}

Status CheckAddress(std::string_view text) {
  if (IsRangeText(text)) return ParseRange(text).status();
  if (!ParseIp(text))
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not an IP address (e.g. 203.0.113.7 or 2001:db8::7)");
  return Status::Ok();
}

Status CheckRange(std::string_view text) {
  return ParseRange(text).status();
}

Result<std::string> NormalizeFingerprint(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == ':') continue;
    hex.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (!IsLowerHex(hex, 2 * crypto::kSha256Size))
    return Status::InvalidArgument(
        "'" + std::string(text) +
        "' is not a certificate fingerprint: give the SHA-256 of the certificate (64 hex "
        "digits, as `openssl x509 -noout -fingerprint -sha256` prints it)");
  return hex;
}

Result<CertificateSummary> SummarizeCertificate(std::string_view pem) {
  TESSERA_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::FromPem(pem));
  CertificateSummary s;
  s.fingerprint = cert.Fingerprint();
  s.subject = cert.Subject();
  s.not_after = cert.NotAfter();
  s.key = cert.KeyDescription();
  s.key_policy = crypto::CheckKeyPolicy(cert);
  return s;
}

std::optional<Party> FindByCertificate(const Registry& registry, std::string_view fingerprint) {
  Result<std::string> wanted = NormalizeFingerprint(fingerprint);
  if (!wanted.ok()) return std::nullopt;
  if (std::find(registry.revoked_fingerprints.begin(), registry.revoked_fingerprints.end(),
                *wanted) != registry.revoked_fingerprints.end())
    return std::nullopt;
  auto holds = [&](const std::vector<std::string>& pems) {
    return std::any_of(pems.begin(), pems.end(), [&](const std::string& pem) {
      Result<CertificateSummary> c = SummarizeCertificate(pem);
      return c.ok() && c->fingerprint == *wanted;
    });
  };
  for (const auto& a : registry.agencies)
    if (holds(a.certificates)) return Party{Party::Kind::kAgency, a.code};
  for (const auto& c : registry.centers)
    if (holds(c.certificates)) return Party{Party::Kind::kCenter, c.id};
  return std::nullopt;
}

CertificateIndex::CertificateIndex(const Registry& registry) {
  const std::set<std::string> revoked(registry.revoked_fingerprints.begin(),
                                      registry.revoked_fingerprints.end());
  // Agencies before centers, and the first holder of a certificate, as FindByCertificate.
  auto add = [&](const std::vector<std::string>& pems, Party party) {
    for (const auto& pem : pems) {
      Result<CertificateSummary> c = SummarizeCertificate(pem);
      if (c.ok() && !revoked.count(c->fingerprint)) parties_.emplace(c->fingerprint, party);
    }
  };
  for (const auto& a : registry.agencies) add(a.certificates, {Party::Kind::kAgency, a.code});
  for (const auto& c : registry.centers) add(c.certificates, {Party::Kind::kCenter, c.id});
}

std::optional<Party> CertificateIndex::Find(std::string_view fingerprint) const {
  Result<std::string> wanted = NormalizeFingerprint(fingerprint);
  if (!wanted.ok()) return std::nullopt;
  auto it = parties_.find(*wanted);
  if (it == parties_.end()) return std::nullopt;
  return it->second;
}

bool AddressAllowed(const Registry& registry, const Party& party, std::string_view ip) {
  std::optional<Ip> peer = ParseIp(ip);
  if (!peer) return false;
  auto any = [&](const std::vector<std::string>& entries, bool ranges_allowed) {
    return std::any_of(entries.begin(), entries.end(), [&](const std::string& e) {
      return MatchesAddress(e, *peer, ranges_allowed);
    });
  };
  if (party.kind == Party::Kind::kCenter) {
    const Center* c = registry.FindCenter(party.id);
    return c && any(c->addresses, false);
  }
  const Agency* a = registry.FindAgency(party.id);
  if (!a) return false;
  if (any(a->addresses, a->ranges_allowed)) return true;
  if (a->group.empty()) return false;
  const AgencyGroup* g = registry.FindGroup(a->group);
  return g && std::any_of(g->vpn_ranges.begin(), g->vpn_ranges.end(), [&](const std::string& r) {
           Result<Range> range = ParseRange(r);
           return range.ok() && range->Contains(*peer);
         });
}

std::vector<std::string> ValidationProblems(const Registry& registry) {
  Checker check;
  if (registry.version != kRegistryVersion)
    check.Add("version is " + std::to_string(registry.version) +
              "; this tessera writes and reads 1");
  if (registry.network.empty() || !IsValidUtf8(registry.network))
    check.Add(
        "the network has no name (UTF-8 text): run `tessera exchange registry init --network "
        "NAME`");
  if (registry.expires_at < registry.issued_at) check.Add("expires_at is before issued_at");
  CheckPolicy(registry.policy, check);

  for (size_t i = 0; i < registry.trust_anchors.size(); ++i) {
    const std::string which = "trust anchor " + std::to_string(i + 1);
    Result<crypto::Certificate> c = crypto::Certificate::FromPem(registry.trust_anchors[i]);
    if (!c.ok())
      check.Add(which + ": " + c.status().message());
    else if (!c->IsCa())
      check.Add(which + " (" + c->Subject() + ") is not a CA certificate: give the CA's own");
  }
  for (const auto& f : registry.revoked_fingerprints)
    if (!IsLowerHex(f, 2 * crypto::kSha256Size))
      check.Add("revoked fingerprint '" + f + "' is not 64 lower-case hex digits");

  std::set<std::string> groups;
  for (const auto& g : registry.groups) {
    const std::string who = "group '" + g.name + "'";
    if (g.name.empty() || !IsValidUtf8(g.name)) check.Add("a group has no name (UTF-8 text)");
    if (!groups.insert(g.name).second) check.Add(who + " is listed twice");
    for (const auto& r : g.vpn_ranges)
      if (Status st = CheckRange(r); !st.ok()) check.Add(who + " VPN range: " + st.message());
  }

  std::set<std::string> centers;
  for (const auto& c : registry.centers) {
    const std::string who = "center '" + c.id + "'";
    if (!IsToken(c.id)) check.Add(who + ": an id is 1 to 64 letters, digits, '-', '_' or '.'");
    if (!centers.insert(c.id).second) check.Add(who + " is listed twice");
    if (c.url.rfind("https://", 0) != 0)
      check.Add(who + ": its URL '" + c.url + "' must start with https://");
    if (c.addresses.empty()) check.Add(who + " has no fixed address");
    check.FixedAddresses(c.addresses, who);
    check.Certificates(c.certificates, who);
  }

  std::set<std::string> codes;
  for (const auto& a : registry.agencies) {
    const std::string who = "agency " + a.code;
    if (!IsToken(a.code))
      check.Add(who + ": a code (機關代碼) is 1 to 64 letters, digits, '-', '_' or '.'");
    if (!codes.insert(a.code).second) check.Add(who + " is listed twice");
    if (a.name.empty() || !IsValidUtf8(a.name)) check.Add(who + " has no name (UTF-8 text)");
    if (!registry.FindCenter(a.home_center))
      check.Add(who + ": its home center '" + a.home_center +
                "' is not registered: add the center first, or move the agency");
    if (!a.group.empty() && !registry.FindGroup(a.group))
      check.Add(who + ": its group '" + a.group + "' does not exist: add it first");
    for (const auto& address : a.addresses) {
      if (Status st = CheckAddress(address); !st.ok())
        check.Add(who + ": " + st.message());
      else if (IsRangeText(address) && !a.ranges_allowed)
        check.Add(who + ": '" + address +
                  "' is a range, and the agency was not granted ranges (--allow-ranges); "
                  "register its fixed addresses, or grant it");
    }
    check.Certificates(a.certificates, who);
    if (a.suspension) {
      const auto codes_list = SuspensionReasonCodes();
      if (std::find(codes_list.begin(), codes_list.end(), a.suspension->reason) == codes_list.end())
        check.Add(who + ": suspension reason '" + a.suspension->reason + "' is not a known code");
    }
  }

  for (const auto& r : registry.releases)
    if (r.version.empty() || !IsLowerHex(r.sha256, 2 * crypto::kSha256Size))
      check.Add("release '" + r.version +
                "': needs a version and a SHA-256 of 64 lower-case hex digits");
  return check.problems;
}

Status Validate(const Registry& registry) {
  std::vector<std::string> problems = ValidationProblems(registry);
  if (problems.empty()) return Status::Ok();
  std::string message = "the registry has " + std::to_string(problems.size()) + " problem(s):";
  for (const auto& p : problems) message += "\n  - " + p;
  return Status::InvalidArgument(message);
}

json ToJson(const Registry& r) {
  json centers = json::array();
  for (const auto& c : r.centers)
    centers.push_back({{"id", c.id},
                       {"url", c.url},
                       {"addresses", c.addresses},
                       {"certificates", c.certificates}});
  json agencies = json::array();
  for (const auto& a : r.agencies) {
    json o = {{"code", a.code},
              {"name", a.name},
              {"home_center", a.home_center},
              {"group", a.group},
              {"certificates", a.certificates},
              {"addresses", a.addresses},
              {"ranges_allowed", a.ranges_allowed}};
    if (a.suspension) o["suspension"] = SuspensionJson(*a.suspension);
    agencies.push_back(std::move(o));
  }
  json groups = json::array();
  for (const auto& g : r.groups) groups.push_back({{"name", g.name}, {"vpn_ranges", g.vpn_ranges}});
  json releases = json::array();
  for (const auto& x : r.releases)
    releases.push_back({{"version", x.version}, {"sha256", x.sha256}});
  return {{"version", r.version},
          {"network", r.network},
          {"serial", r.serial},
          {"issued_at", r.issued_at},
          {"expires_at", r.expires_at},
          {"policy", PolicyJson(r.policy)},
          {"trust_anchors", r.trust_anchors},
          {"revoked_fingerprints", r.revoked_fingerprints},
          {"centers", centers},
          {"agencies", agencies},
          {"groups", groups},
          {"releases", releases}};
}

Result<Registry> RegistryFromJson(const json& j) {
  try {
    ObjectAt(j, "the registry");
    auto version = j.find("version");
    if (version == j.end())
      return Status::Corruption("the registry is malformed: it has no version");
    const int v = JsonInt<int>(*version, "version");
    if (v != kRegistryVersion)
      return Status::FailedPrecondition(
          "the registry is format version " + std::to_string(v) +
          "; this tessera reads version 1 only: upgrade tessera on this host");
    Registry r;
    r.network = Str(j, "network", "", true);
    r.serial = OptionalInt<uint64_t>(j, "serial", 0);
    r.issued_at = OptionalInt<int64_t>(j, "issued_at", 0);
    r.expires_at = OptionalInt<int64_t>(j, "expires_at", 0);
    if (auto it = j.find("policy"); it != j.end()) r.policy = PolicyFrom(*it);
    r.trust_anchors = StrList(j, "trust_anchors", "");
    r.revoked_fingerprints = StrList(j, "revoked_fingerprints", "");
    r.centers = ObjectList<Center>(j, "centers", CenterFrom);
    r.agencies = ObjectList<Agency>(j, "agencies", AgencyFrom);
    r.groups = ObjectList<AgencyGroup>(j, "groups", GroupFrom);
    r.releases = ObjectList<ReleaseHash>(j, "releases", ReleaseFrom);
    return r;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("the registry is malformed: ") + e.what());
  }
}

std::string SignRegistry(const Registry& registry, const crypto::SigningKey& key) {
  const std::string text = JsonText(ToJson(registry));
  const json wire = {{"format", kWireFormat},
                     {"version", kWireVersion},
                     {"registry", text},
                     {"key", key.public_key().Fingerprint()},
                     {"signature", HexEncode(key.Sign(AsBytes(text)))}};
  return JsonText(wire, 2) + "\n";
}

Result<Registry> VerifySignedRegistry(std::string_view wire,
                                      const crypto::PublicKey& management_key) {
  json j;
  try {
    j = json::parse(wire);
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("the signed registry is not JSON (damaged in transit or "
                                          "not a registry): ") +
                              e.what());
  }
  std::string text, key, signature_hex;
  try {
    ObjectAt(j, "the signed registry");
    if (Str(j, "format", "") != kWireFormat)
      return Status::Corruption("this is not a signed tessera registry (format is not \"" +
                                std::string(kWireFormat) + "\")");
    const int v = OptionalInt<int>(j, "version", 0);
    if (v != kWireVersion)
      return Status::FailedPrecondition("the signed registry is wire version " + std::to_string(v) +
                                        "; this tessera reads version 1 only: upgrade tessera");
    text = Str(j, "registry", "", true);
    key = Str(j, "key", "", true);
    signature_hex = Str(j, "signature", "", true);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("the signed registry is malformed: ") + e.what());
  }
  const std::string expected = management_key.Fingerprint();
  if (key != expected)
    return Status::Corruption("the registry was signed by key " + key +
                              ", not by the management center's key " + expected +
                              " this host trusts: refuse it, and fetch the registry from the "
                              "management center again");
  Result<Bytes> signature = HexDecode(signature_hex);
  if (!signature.ok() || signature->size() != crypto::kEd25519SignatureSize ||
      !management_key.Verify(AsBytes(text), *signature))
    return Status::Corruption(
        "the registry's signature does not verify with the management center's key " + expected +
        ": it was damaged or altered; fetch it again from the management center");
  json inner;
  try {
    inner = json::parse(text);
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("the signed registry text is not JSON: ") + e.what());
  }
  return RegistryFromJson(inner);
}

Result<Registry> OpenSignedRegistry(std::string_view wire, const crypto::PublicKey& management_key,
                                    int64_t now) {
  TESSERA_ASSIGN_OR_RETURN(Registry r, VerifySignedRegistry(wire, management_key));
  if (now >= r.expires_at)
    return Status::FailedPrecondition(
        "the exchange registry of network '" + r.network + "' (serial " + std::to_string(r.serial) +
        ") expired at " + FormatRfc3339(r.expires_at * 1000000000) +
        "; exchange is refused until this host holds a current one: fetch a new one from the "
        "management center (or install it: `tessera exchange registry install FILE`), and if "
        "none newer is offered, ask the management center to run `tessera exchange registry "
        "publish`");
  return r;
}

}  // namespace tessera::exchange
