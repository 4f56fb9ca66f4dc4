// `tessera exchange registry ...`: the exchange registry (exchange/registry.hpp). On the
// management center: init, edit the draft (agencies, centers, groups, trust anchors,
// revocations, policy, suspensions), show, publish. On every host: install a fetched
// registry and report its status.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "crypto/signature.hpp"
#include "crypto/x509.hpp"
#include "exchange/registry.hpp"
#include "exchange/registry_store.hpp"
#include "guard/audit_log.hpp"
#include "guard/release.hpp"

namespace tessera::cli {

using exchange::Registry;
using nlohmann::json;

namespace {

constexpr char kPublishHint[] =
    "publish to put it into effect: `tessera exchange registry publish`";

std::filesystem::path ManagementDir(const Context& ctx) {
  return std::filesystem::path(ctx.home) / "exchange" / "management";
}

std::string When(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000);
}

// "2d 4h", "3h 12m", "45s": how long, for people.
std::string Span(int64_t seconds) {
  if (seconds < 0) seconds = -seconds;
  const int64_t d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m " + std::to_string(seconds % 60) + "s";
  return std::to_string(seconds) + "s";
}

// The PEM certificate in `path`, as the registry keeps it.
Result<std::string> ReadCertificate(const std::string& path) {
  // The first certificate: a chain file registers its leaf.
  Result<crypto::Certificate> c = crypto::Certificate::Load(path);
  if (!c.ok()) return c.status();
  return c->Pem();
}

Result<std::vector<std::string>> ReadCertificates(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    TESSERA_ASSIGN_OR_RETURN(std::string pem, ReadCertificate(p));
    out.push_back(std::move(pem));
  }
  return out;
}

std::string Fingerprint(const std::string& pem) {
  Result<exchange::CertificateSummary> c = exchange::SummarizeCertificate(pem);
  return c.ok() ? c->fingerprint : "(unreadable certificate)";
}

json CertificatesJson(const std::vector<std::string>& pems) {
  json out = json::array();
  for (const auto& pem : pems) {
    Result<exchange::CertificateSummary> c = exchange::SummarizeCertificate(pem);
    if (!c.ok()) {
      out.push_back({{"error", c.status().message()}});
      continue;
    }
    json o = {{"fingerprint", c->fingerprint}, {"subject", c->subject}, {"key", c->key}};
    if (c->not_after) o["not_after"] = When(c->not_after);
    out.push_back(std::move(o));
  }
  return out;
}

// Registered certificates that have expired, or expire within the policy's longest
// warning period: publishing goes ahead (hosts refuse expired ones themselves), and the
// operator learns which renewals to chase.
std::vector<std::string> CertificateWarnings(const Registry& r, int64_t now) {
  int64_t warn_days = 0;
  for (int d : r.policy.certificate_warning_days) warn_days = std::max<int64_t>(warn_days, d);
  std::vector<std::string> out;
  auto check = [&](const std::vector<std::string>& pems, const std::string& who) {
    for (const auto& pem : pems) {
      Result<exchange::CertificateSummary> c = exchange::SummarizeCertificate(pem);
      if (!c.ok()) continue;
      const std::string which = who + " certificate " + c->fingerprint;
      if (c->not_after <= now)
        out.push_back(which + " expired on " + When(c->not_after) +
                      ": hosts refuse it; register its renewal");
      else if (c->not_after - now <= warn_days * 86400)
        out.push_back(which + " expires on " + When(c->not_after) + " (in " +
                      Span(c->not_after - now) + "): register its renewal in time");
    }
  };
  for (const auto& a : r.agencies) check(a.certificates, "agency " + a.code);
  for (const auto& c : r.centers) check(c.certificates, "center " + c.id);
  check(r.trust_anchors, "trust anchor");
  return out;
}

json AgencyJson(const exchange::Agency& a) {
  json o = {{"code", a.code},
            {"name", a.name},
            {"home_center", a.home_center},
            {"group", a.group},
            {"addresses", a.addresses},
            {"ranges_allowed", a.ranges_allowed},
            {"certificates", CertificatesJson(a.certificates)}};
  if (a.suspension)
    o["suspension"] = {{"reason", a.suspension->reason},
                       {"note", a.suspension->note},
                       {"by", a.suspension->by},
                       {"at", When(a.suspension->at)}};
  else
    o["suspension"] = nullptr;
  return o;
}

json CenterJson(const exchange::Center& c) {
  return {{"id", c.id},
          {"url", c.url},
          {"addresses", c.addresses},
          {"certificates", CertificatesJson(c.certificates)}};
}

std::string Join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : separator) + i;
  return out;
}

// Loads the draft, applies `edit` and saves it, unless the edit adds a problem Validate
// finds: every saved draft is then publishable (problems already there, from a draft
// edited by hand, do not block unrelated edits).
Status EditDraft(const Context& ctx, const std::function<Status(Registry&)>& edit) {
  TESSERA_ASSIGN_OR_RETURN(auto store, exchange::ManagementStore::Open(ManagementDir(ctx)));
  return store.EditDraft([&](Registry& draft) -> Status {
    const std::vector<std::string> before = exchange::ValidationProblems(draft);
    TESSERA_RETURN_IF_ERROR(edit(draft));
    std::vector<std::string> added;
    for (const auto& p : exchange::ValidationProblems(draft))
      if (std::find(before.begin(), before.end(), p) == before.end()) added.push_back(p);
    if (added.empty()) return Status::Ok();
    std::string message = "nothing changed, since the change would make the registry invalid:";
    for (const auto& p : added) message += "\n  - " + p;
    return Status::InvalidArgument(message);
  });
}

// Reports a change to the draft.
void Done(const Context& ctx, const std::string& what, json details = json::object()) {
  if (ctx.json) {
    details["ok"] = true;
    details["done"] = what;
    PrintJson(details);
    return;
  }
  std::printf("%s (in the draft; %s)\n", what.c_str(), kPublishHint);
}

exchange::Agency* MutableAgency(Registry& r, const std::string& code) {
  for (auto& a : r.agencies)
    if (a.code == code) return &a;
  return nullptr;
}

Status AgencyNotFound(const std::string& code) {
  return Status::NotFound("no agency " + code +
                          " is registered: see `tessera exchange registry agency list`");
}

Status Erase(std::vector<std::string>& list, const std::string& item, const std::string& what) {
  auto it = std::find(list.begin(), list.end(), item);
  if (it == list.end()) return Status::NotFound(what + " " + item + " is not registered");
  list.erase(it);
  return Status::Ok();
}

Status EraseCertificate(std::vector<std::string>& pems, const std::string& fingerprint_text,
                        const std::string& who) {
  TESSERA_ASSIGN_OR_RETURN(std::string fingerprint,
                           exchange::NormalizeFingerprint(fingerprint_text));
  auto it = std::find_if(pems.begin(), pems.end(),
                         [&](const std::string& pem) { return Fingerprint(pem) == fingerprint; });
  if (it == pems.end())
    return Status::NotFound(who + " has no certificate with fingerprint " + fingerprint);
  pems.erase(it);
  return Status::Ok();
}

void AddUnique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

Status CheckReason(const std::string& reason) {
  const auto codes = exchange::SuspensionReasonCodes();
  if (std::find(codes.begin(), codes.end(), reason) == codes.end())
    return Status::InvalidArgument("the reason '" + reason + "' is not one of: " + Join(codes));
  return Status::Ok();
}

// --- agency ---------------------------------------------------------------------------

void AddAgencyCommands(CLI::App& registry, Context& ctx) {
  auto* agency = registry.add_subcommand("agency", "Agencies (機關) taking part in the network");
  agency->require_subcommand(1);

  {
    auto* cmd = agency->add_subcommand("add", "Register an agency");
    struct Options {
      std::string code, name, center, group;
      std::vector<std::string> certs, ips;
      bool allow_ranges = false;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("code", o->code, "Its 機關代碼, e.g. A15060000H")->required();
    cmd->add_option("--name", o->name, "Its full name (全銜)")->required();
    cmd->add_option("--center", o->center, "The id of the exchange center it connects to")
        ->required();
    cmd->add_option("--cert", o->certs, "A PEM certificate of its gateway (repeatable)");
    cmd->add_option("--ip", o->ips,
                    "A fixed source address (repeatable); a range needs --allow-ranges");
    cmd->add_option("--group", o->group, "Its agency group (VPN ranges apply)");
    cmd->add_flag("--allow-ranges", o->allow_ranges, "Grant it address ranges (CIDR) in --ip");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> certs, ReadCertificates(o->certs));
        exchange::Agency added;
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          if (r.FindAgency(o->code))
            return Status::AlreadyExists("agency " + o->code +
                                         " is registered already: change it with `agency set`");
          added.code = o->code;
          added.name = o->name;
          added.home_center = o->center;
          added.group = o->group;
          added.certificates = certs;
          added.addresses = o->ips;
          added.ranges_allowed = o->allow_ranges;
          r.agencies.push_back(added);
          return Status::Ok();
        }));
        Done(ctx, "agency " + o->code + " added", {{"agency", AgencyJson(added)}});
        return Status::Ok();
      });
    });
  }

  {
    auto* cmd = agency->add_subcommand("set", "Change an agency's registration");
    struct Options {
      std::string code, name, center, group;
      std::vector<std::string> certs, ips, add_certs, remove_certs, add_ips, remove_ips;
      bool allow = false, disallow = false;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("code", o->code, "Its 機關代碼")->required();
    auto* name = cmd->add_option("--name", o->name, "Its full name (全銜)");
    auto* center = cmd->add_option("--center", o->center, "Its exchange center");
    auto* group = cmd->add_option("--group", o->group, "Its agency group (\"\" for none)");
    auto* certs =
        cmd->add_option("--cert", o->certs, "Replace its certificates by these PEM files");
    auto* ips = cmd->add_option("--ip", o->ips, "Replace its addresses by these");
    cmd->add_option("--add-cert", o->add_certs, "Add a PEM certificate (a key rollover)");
    cmd->add_option("--remove-cert", o->remove_certs, "Remove the certificate of this fingerprint");
    cmd->add_option("--add-ip", o->add_ips, "Add a source address");
    cmd->add_option("--remove-ip", o->remove_ips, "Remove a source address");
    cmd->add_flag("--allow-ranges", o->allow, "Grant it address ranges (CIDR)");
    cmd->add_flag("--no-allow-ranges", o->disallow, "Withdraw the grant of address ranges");
    cmd->callback([&ctx, o, name, center, group, certs, ips] {
      Run(ctx, [&]() -> Status {
        if (o->allow && o->disallow)
          return Status::InvalidArgument("give --allow-ranges or --no-allow-ranges, not both");
        TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> replacing, ReadCertificates(o->certs));
        TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> adding, ReadCertificates(o->add_certs));
        exchange::Agency changed;
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          exchange::Agency* a = MutableAgency(r, o->code);
          if (!a) return AgencyNotFound(o->code);
          if (*name) a->name = o->name;
          if (*center) a->home_center = o->center;
          if (*group) a->group = o->group;
          if (*certs) a->certificates = replacing;
          if (*ips) a->addresses = o->ips;
          for (const auto& f : o->remove_certs)
            TESSERA_RETURN_IF_ERROR(EraseCertificate(a->certificates, f, "agency " + o->code));
          for (const auto& pem : adding) AddUnique(a->certificates, pem);
          for (const auto& ip : o->remove_ips)
            TESSERA_RETURN_IF_ERROR(Erase(a->addresses, ip, "address"));
          for (const auto& ip : o->add_ips) AddUnique(a->addresses, ip);
          if (o->allow) a->ranges_allowed = true;
          if (o->disallow) a->ranges_allowed = false;
          changed = *a;
          return Status::Ok();
        }));
        Done(ctx, "agency " + o->code + " changed", {{"agency", AgencyJson(changed)}});
        return Status::Ok();
      });
    });
  }

  {
    auto* cmd = agency->add_subcommand("remove", "Remove an agency from the network");
    auto code = std::make_shared<std::string>();
    cmd->add_option("code", *code, "Its 機關代碼")->required();
    cmd->callback([&ctx, code] {
      Run(ctx, [&]() -> Status {
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          auto it = std::find_if(r.agencies.begin(), r.agencies.end(),
                                 [&](const exchange::Agency& a) { return a.code == *code; });
          if (it == r.agencies.end()) return AgencyNotFound(*code);
          r.agencies.erase(it);
          return Status::Ok();
        }));
        Done(ctx, "agency " + *code + " removed");
        return Status::Ok();
      });
    });
  }

  {
    auto* cmd = agency->add_subcommand("list", "The agencies in the draft");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, exchange::ManagementStore::Open(ManagementDir(ctx)));
        TESSERA_ASSIGN_OR_RETURN(Registry r, store.LoadDraft());
        if (ctx.json) {
          json list = json::array();
          for (const auto& a : r.agencies) list.push_back(AgencyJson(a));
          PrintJson({{"agencies", list}});
          return Status::Ok();
        }
        for (const auto& a : r.agencies) {
          std::printf("%s  %s  center %s%s%s%s\n", a.code.c_str(), a.name.c_str(),
                      a.home_center.c_str(), a.group.empty() ? "" : ("  group " + a.group).c_str(),
                      a.ranges_allowed ? "  ranges allowed" : "",
                      a.suspension ? ("  SUSPENDED (" + a.suspension->reason + ")").c_str() : "");
          std::printf("    addresses: %s\n",
                      a.addresses.empty() ? "(none)" : Join(a.addresses).c_str());
          for (const auto& pem : a.certificates) {
            Result<exchange::CertificateSummary> c = exchange::SummarizeCertificate(pem);
            if (c.ok())
              std::printf("    certificate %s  %s  %s, until %s\n", c->fingerprint.c_str(),
                          c->subject.c_str(), c->key.c_str(), When(c->not_after).c_str());
            else
              std::printf("    certificate UNREADABLE: %s\n", c.status().message().c_str());
          }
        }
        std::printf("%zu agencies\n", r.agencies.size());
        return Status::Ok();
      });
    });
  }
}

// --- center, group, anchor, revoke, policy ---------------------------------------------

void AddCenterCommands(CLI::App& registry, Context& ctx) {
  auto* center = registry.add_subcommand("center", "Exchange centers (交換中心)");
  center->require_subcommand(1);
  {
    auto* cmd = center->add_subcommand("add", "Register an exchange center");
    struct Options {
      std::string id, url;
      std::vector<std::string> ips, certs;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("id", o->id, "Its id, e.g. center-north")->required();
    cmd->add_option("--url", o->url, "Where hosts reach it, e.g. https://203.0.113.1:7443")
        ->required();
    cmd->add_option("--ip", o->ips, "A fixed source address (repeatable)")->required();
    cmd->add_option("--cert", o->certs, "A PEM TLS certificate (repeatable)");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> certs, ReadCertificates(o->certs));
        exchange::Center added{o->id, o->url, o->ips, certs};
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          if (r.FindCenter(o->id))
            return Status::AlreadyExists("center " + o->id + " is registered already");
          r.centers.push_back(added);
          return Status::Ok();
        }));
        Done(ctx, "center " + o->id + " added", {{"center", CenterJson(added)}});
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd =
        center->add_subcommand("remove", "Remove an exchange center (its agencies moved first)");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Its id")->required();
    cmd->callback([&ctx, id] {
      Run(ctx, [&]() -> Status {
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          auto it = std::find_if(r.centers.begin(), r.centers.end(),
                                 [&](const exchange::Center& c) { return c.id == *id; });
          if (it == r.centers.end()) return Status::NotFound("no center " + *id + " is registered");
          r.centers.erase(it);
          return Status::Ok();
        }));
        Done(ctx, "center " + *id + " removed");
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = center->add_subcommand("list", "The exchange centers in the draft");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, exchange::ManagementStore::Open(ManagementDir(ctx)));
        TESSERA_ASSIGN_OR_RETURN(Registry r, store.LoadDraft());
        if (ctx.json) {
          json list = json::array();
          for (const auto& c : r.centers) list.push_back(CenterJson(c));
          PrintJson({{"centers", list}});
          return Status::Ok();
        }
        for (const auto& c : r.centers) {
          const auto served =
              std::count_if(r.agencies.begin(), r.agencies.end(),
                            [&](const exchange::Agency& a) { return a.home_center == c.id; });
          std::printf("%s  %s  addresses %s  %ld agencies\n", c.id.c_str(), c.url.c_str(),
                      Join(c.addresses).c_str(), static_cast<long>(served));
          for (const auto& pem : c.certificates)
            std::printf("    certificate %s\n", Fingerprint(pem).c_str());
        }
        std::printf("%zu centers\n", r.centers.size());
        return Status::Ok();
      });
    });
  }
}

void AddGroupAnchorRevokePolicyCommands(CLI::App& registry, Context& ctx) {
  {
    auto* group = registry.add_subcommand("group", "Agency groups and their VPN ranges");
    group->require_subcommand(1);
    auto* cmd = group->add_subcommand("add", "Add an agency group");
    struct Options {
      std::string name;
      std::vector<std::string> ranges;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("name", o->name, "Its name")->required();
    cmd->add_option("--vpn-range", o->ranges,
                    "A remote-work range (CIDR) its agencies may connect from (repeatable)");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          if (r.FindGroup(o->name))
            return Status::AlreadyExists("group " + o->name + " exists already");
          r.groups.push_back({o->name, o->ranges});
          return Status::Ok();
        }));
        Done(ctx, "group " + o->name + " added",
             {{"group", {{"name", o->name}, {"vpn_ranges", o->ranges}}}});
        return Status::Ok();
      });
    });
  }
  {
    auto* anchor =
        registry.add_subcommand("anchor", "Trust anchors: the CAs certificates chain to");
    anchor->require_subcommand(1);
    auto* cmd = anchor->add_subcommand("add", "Add a CA certificate as a trust anchor");
    auto file = std::make_shared<std::string>();
    cmd->add_option("file", *file, "The CA certificate (PEM)")->required();
    cmd->callback([&ctx, file] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::string pem, ReadCertificate(*file));
        const std::string fingerprint = Fingerprint(pem);
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          for (const auto& a : r.trust_anchors)
            if (Fingerprint(a) == fingerprint)
              return Status::AlreadyExists("that CA (" + fingerprint +
                                           ") is a trust anchor already");
          r.trust_anchors.push_back(pem);
          return Status::Ok();
        }));
        Done(ctx, "trust anchor " + fingerprint + " added", {{"fingerprint", fingerprint}});
        return Status::Ok();
      });
    });
  }
  {
    auto* release = registry.add_subcommand(
        "release", "Software releases hosts may run (their signed manifests' hashes)");
    release->require_subcommand(1);
    auto* cmd = release->add_subcommand(
        "add", "List a signed release (from `tessera release sign`) as one hosts may run");
    struct Options {
      std::string release, key;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("--release", o->release, "The signed release")->required();
    cmd->add_option("--key", o->key, "The publisher's public key (PEM) it must be signed with")
        ->required();
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, crypto::PublicKey::Load(o->key));
        TESSERA_ASSIGN_OR_RETURN(auto signed_release, guard::SignedRelease::Load(o->release));
        TESSERA_RETURN_IF_ERROR(guard::VerifyReleaseSignature(signed_release, key));
        const std::string version = signed_release.manifest.version;
        const std::string hash = signed_release.manifest.Sha256();
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          for (const auto& x : r.releases)
            if (x.version == version)
              return Status::AlreadyExists("release " + version + " is listed already (" +
                                           x.sha256 + ")");
          r.releases.push_back({version, hash});
          return Status::Ok();
        }));
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "exchange.registry.release", version, "listed with manifest " + hash));
        Done(ctx, "release " + version + " listed (manifest SHA-256 " + hash + ")",
             {{"release", {{"version", version}, {"sha256", hash}}}});
        return Status::Ok();
      });
    });
    auto* withdraw = release->add_subcommand(
        "withdraw",
        "Withdraw a listed release (e.g. one found vulnerable): once the registry is published, "
        "hosts running it refuse to serve (or warn) at their next check");
    auto version = std::make_shared<std::string>();
    withdraw->add_option("version", *version, "The release's version")->required();
    withdraw->callback([&ctx, version] {
      Run(ctx, [&]() -> Status {
        std::string hash;
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          auto it = std::find_if(r.releases.begin(), r.releases.end(),
                                 [&](const auto& x) { return x.version == *version; });
          if (it == r.releases.end())
            return Status::NotFound("release " + *version + " is not listed");
          hash = it->sha256;
          r.releases.erase(it);
          return Status::Ok();
        }));
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "exchange.registry.release-withdraw", *version,
                                      "withdrawn (manifest " + hash + ")"));
        Done(ctx, "release " + *version + " withdrawn (manifest SHA-256 " + hash + ")",
             {{"release", {{"version", *version}, {"sha256", hash}}}});
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = registry.add_subcommand(
        "revoke", "Revoke a certificate: no host accepts it once the registry is published");
    auto text = std::make_shared<std::string>();
    cmd->add_option("fingerprint", *text, "Its SHA-256 fingerprint (hex, colons allowed)")
        ->required();
    cmd->callback([&ctx, text] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::string fingerprint, exchange::NormalizeFingerprint(*text));
        std::string holder = "no registered party";
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          if (std::optional<exchange::Party> p = exchange::FindByCertificate(r, fingerprint))
            holder = (p->kind == exchange::Party::Kind::kAgency ? "agency " : "center ") + p->id;
          if (std::find(r.revoked_fingerprints.begin(), r.revoked_fingerprints.end(),
                        fingerprint) != r.revoked_fingerprints.end())
            return Status::AlreadyExists("certificate " + fingerprint + " is revoked already");
          r.revoked_fingerprints.push_back(fingerprint);
          return Status::Ok();
        }));
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "exchange.registry.revoke", fingerprint,
                                      "revoked in the draft (held by " + holder + ")"));
        Done(ctx, "certificate " + fingerprint + " of " + holder + " revoked",
             {{"fingerprint", fingerprint}, {"holder", holder}});
        return Status::Ok();
      });
    });
  }
  {
    auto* policy = registry.add_subcommand("policy", "The network's policy");
    policy->require_subcommand(1);
    auto* cmd = policy->add_subcommand("set", "Change the policy");
    struct Options {
      int64_t skew = 0, message_mb = 0, expiry_days = 0, expiry_seconds = 0, validity_hours = 0,
              poll = 0;
    };
    auto o = std::make_shared<Options>();
    auto* skew = cmd->add_option("--max-clock-skew", o->skew,
                                 "Seconds a host's clock may be off before it refuses to sign");
    auto* mb = cmd->add_option("--max-message-mb", o->message_mb,
                               "Largest envelope, attachments included (MiB)");
    auto* days = cmd->add_option("--delivery-expiry-days", o->expiry_days,
                                 "Days before an undelivered document gets an \"expired\" receipt");
    auto* seconds = cmd->add_option("--delivery-expiry-seconds", o->expiry_seconds,
                                    "The same in seconds, for trials and drills");
    days->excludes(seconds);
    auto* hours = cmd->add_option("--validity-hours", o->validity_hours,
                                  "Hours a published registry stays valid");
    auto* poll = cmd->add_option("--poll-seconds", o->poll, "How often hosts fetch the registry");
    cmd->callback([&ctx, o, skew, mb, days, seconds, hours, poll] {
      Run(ctx, [&]() -> Status {
        exchange::Policy changed;
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          exchange::Policy& p = r.policy;
          if (*skew) p.max_clock_skew_seconds = o->skew;
          if (*mb) {
            if (o->message_mb <= 0 || o->message_mb > 2048)
              return Status::InvalidArgument(
                  "--max-message-mb must be from 1 to 2048: a larger document cannot be "
                  "scanned for malware whole");
            p.max_message_bytes = static_cast<uint64_t>(o->message_mb) << 20;
          }
          if ((*days && o->expiry_days <= 0) || (*seconds && o->expiry_seconds <= 0))
            return Status::InvalidArgument("the delivery expiry must be positive");
          if (*days) p.delivery_expiry_seconds = o->expiry_days * 86400;
          if (*seconds) p.delivery_expiry_seconds = o->expiry_seconds;
          if (*hours) p.registry_validity_seconds = o->validity_hours * 3600;
          if (*poll) p.registry_poll_seconds = o->poll;
          changed = p;
          return Status::Ok();
        }));
        if (changed.delivery_expiry_seconds < 3600)
          std::fprintf(stderr,
                       "warning: documents not collected within %lld s will expire: a setting "
                       "for trials, not for service\n",
                       static_cast<long long>(changed.delivery_expiry_seconds));
        Registry shown;
        shown.policy = changed;
        Done(ctx, "policy changed", {{"policy", exchange::ToJson(shown)["policy"]}});
        return Status::Ok();
      });
    });
  }
}

// --- suspend, resume ------------------------------------------------------------------

void AddSuspensionCommands(CLI::App& registry, Context& ctx) {
  {
    auto* cmd = registry.add_subcommand(
        "suspend", "Suspend an agency (中止服務): hosts refuse its documents once published");
    struct Options {
      std::string code, reason, note;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("code", o->code, "Its 機關代碼")->required();
    cmd->add_option("--reason", o->reason, "One of: " + Join(exchange::SuspensionReasonCodes()))
        ->required();
    cmd->add_option("--note", o->note, "What happened, for the record");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_RETURN_IF_ERROR(CheckReason(o->reason));
        exchange::Suspension s{o->reason, o->note, guard::CurrentActor(), NowUnixSeconds()};
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          exchange::Agency* a = MutableAgency(r, o->code);
          if (!a) return AgencyNotFound(o->code);
          if (a->suspension)
            return Status::FailedPrecondition(
                "agency " + o->code + " is suspended already since " + When(a->suspension->at) +
                " (" + a->suspension->reason + "): resume it first to change the reason");
          // Recorded before the change is saved: no suspension the audit log does not know.
          TESSERA_RETURN_IF_ERROR(Audit(ctx, "exchange.registry.suspend", o->code,
                                        o->reason + (o->note.empty() ? "" : ": " + o->note)));
          a->suspension = s;
          return Status::Ok();
        }));
        Done(ctx, "agency " + o->code + " suspended (" + o->reason + ")",
             {{"code", o->code}, {"reason", o->reason}, {"note", o->note}, {"by", s.by}});
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = registry.add_subcommand("resume", "End an agency's suspension");
    struct Options {
      std::string code, note;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("code", o->code, "Its 機關代碼")->required();
    cmd->add_option("--note", o->note, "Why service resumes, for the record")->required();
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        std::string previous;
        TESSERA_RETURN_IF_ERROR(EditDraft(ctx, [&](Registry& r) -> Status {
          exchange::Agency* a = MutableAgency(r, o->code);
          if (!a) return AgencyNotFound(o->code);
          if (!a->suspension)
            return Status::FailedPrecondition("agency " + o->code + " is not suspended");
          previous = a->suspension->reason;
          TESSERA_RETURN_IF_ERROR(Audit(ctx, "exchange.registry.resume", o->code,
                                        "suspended for " + previous + "; " + o->note));
          a->suspension.reset();
          return Status::Ok();
        }));
        Done(ctx, "agency " + o->code + " resumed",
             {{"code", o->code}, {"note", o->note}, {"was", previous}});
        return Status::Ok();
      });
    });
  }
}

// --- show, publish, install, status ---------------------------------------------------

void PrintSummary(const Registry& r, int64_t now) {
  std::printf("network %s, serial %llu\n", r.network.c_str(),
              static_cast<unsigned long long>(r.serial));
  if (r.issued_at)
    std::printf("issued %s, %s %s (%s %s)\n", When(r.issued_at).c_str(),
                now >= r.expires_at ? "EXPIRED at" : "expires", When(r.expires_at).c_str(),
                Span(r.expires_at - now).c_str(), now >= r.expires_at ? "ago" : "from now");
  const auto& p = r.policy;
  std::printf(
      "policy: clock skew %llds, messages up to %s, delivery expiry %s, registry valid %s, "
      "hosts fetch every %llds\n",
      static_cast<long long>(p.max_clock_skew_seconds), HumanBytes(p.max_message_bytes).c_str(),
      Span(p.delivery_expiry_seconds).c_str(), Span(p.registry_validity_seconds).c_str(),
      static_cast<long long>(p.registry_poll_seconds));
  std::printf("trust anchors: %zu, revoked certificates: %zu, groups: %zu\n",
              r.trust_anchors.size(), r.revoked_fingerprints.size(), r.groups.size());
  for (const auto& g : r.groups)
    std::printf("  group %s: VPN ranges %s\n", g.name.c_str(),
                g.vpn_ranges.empty() ? "(none)" : Join(g.vpn_ranges).c_str());
  std::printf("centers: %zu\n", r.centers.size());
  for (const auto& c : r.centers)
    std::printf("  %s  %s  %s\n", c.id.c_str(), c.url.c_str(), Join(c.addresses).c_str());
  std::printf("agencies: %zu\n", r.agencies.size());
  for (const auto& a : r.agencies)
    std::printf("  %s  %s  center %s  %s%s\n", a.code.c_str(), a.name.c_str(),
                a.home_center.c_str(), Join(a.addresses).c_str(),
                a.suspension ? ("  SUSPENDED (" + a.suspension->reason + ")").c_str() : "");
}

json CountsJson(const Registry& r) {
  return {{"centers", r.centers.size()},
          {"agencies", r.agencies.size()},
          {"suspended",
           std::count_if(r.agencies.begin(), r.agencies.end(),
                         [](const exchange::Agency& a) { return a.suspension.has_value(); })},
          {"groups", r.groups.size()},
          {"trust_anchors", r.trust_anchors.size()},
          {"revoked", r.revoked_fingerprints.size()}};
}

void AddPublicationCommands(CLI::App& registry, Context& ctx) {
  {
    auto* cmd = registry.add_subcommand(
        "show", "Show the last publication (or, on a host, its registry); --draft: the draft");
    auto draft = std::make_shared<bool>(false);
    cmd->add_flag("--draft", *draft, "The draft being edited, with its problems");
    cmd->callback([&ctx, draft] {
      Run(ctx, [&]() -> Status {
        Registry r;
        std::vector<std::string> problems, warnings;
        Result<exchange::ManagementStore> store =
            exchange::ManagementStore::Open(ManagementDir(ctx));
        if (*draft) {
          if (!store.ok()) return store.status();
          TESSERA_ASSIGN_OR_RETURN(r, store->LoadDraft());
          problems = exchange::ValidationProblems(r);
          warnings = CertificateWarnings(r, NowUnixSeconds());
        } else if (store.ok()) {
          TESSERA_ASSIGN_OR_RETURN(std::string wire, store->Current());
          TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, store->PublicKey());
          TESSERA_ASSIGN_OR_RETURN(r, exchange::VerifySignedRegistry(wire, key));
        } else {
          TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, exchange::HostManagementKey(ctx.home));
          TESSERA_ASSIGN_OR_RETURN(r, exchange::ReadHostRegistry(ctx.home, key));
        }
        if (ctx.json) {
          json j = exchange::ToJson(r);
          if (*draft) {
            j["problems"] = problems;
            j["warnings"] = warnings;
          }
          PrintJson(j);
          return Status::Ok();
        }
        PrintSummary(r, NowUnixSeconds());
        if (*draft) {
          for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
          for (const auto& p : problems) std::printf("PROBLEM: %s\n", p.c_str());
          std::printf("%s\n", problems.empty() ? "the draft can be published"
                                               : "the draft cannot be published until corrected");
        }
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = registry.add_subcommand(
        "publish", "Sign the draft as the next serial, for every host to fetch");
    auto hours = std::make_shared<int64_t>(0);
    cmd->add_option("--valid-hours", *hours, "Hours it stays valid (default: the policy's)");
    cmd->callback([&ctx, hours] {
      Run(ctx, [&]() -> Status {
        if (*hours < 0) return Status::InvalidArgument("--valid-hours must be positive");
        TESSERA_ASSIGN_OR_RETURN(auto store, exchange::ManagementStore::Open(ManagementDir(ctx)));
        const int64_t now = NowUnixSeconds();
        Result<exchange::ManagementStore::Publication> p = store.Publish(*hours * 3600, now);
        if (!p.ok()) {
          if (Status st = Audit(ctx, "exchange.registry.publish", "draft",
                                "refused: " + p.status().message());
              !st.ok())
            std::fprintf(stderr, "warning: %s\n", st.message().c_str());
          return p.status();
        }
        const Registry& r = p->registry;
        TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, store.PublicKey());
        // Published already: a failure to record it is an error to act on, not a reason to
        // pretend the publication did not happen.
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "exchange.registry.publish",
                                      "serial " + std::to_string(r.serial),
                                      "network " + r.network + ", expires " + When(r.expires_at) +
                                          ", " + std::to_string(r.agencies.size()) + " agencies, " +
                                          std::to_string(r.centers.size()) + " centers"));
        const std::vector<std::string> warnings = CertificateWarnings(r, now);
        if (ctx.json) {
          PrintJson({{"ok", true},
                     {"network", r.network},
                     {"serial", r.serial},
                     {"warnings", warnings},
                     {"issued_at", When(r.issued_at)},
                     {"expires_at", When(r.expires_at)},
                     {"file", p->path.string()},
                     {"current", (store.dir() / "current.json").string()},
                     {"key_fingerprint", key.Fingerprint()},
                     {"counts", CountsJson(r)}});
          return Status::Ok();
        }
        for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
        std::printf(
            "published serial %llu of network %s: %s\nissued %s, expires %s (in %s); hosts "
            "fail closed after that unless a newer one is published\nsigned by management key "
            "%s\n",
            static_cast<unsigned long long>(r.serial), r.network.c_str(), p->path.c_str(),
            When(r.issued_at).c_str(), When(r.expires_at).c_str(), Span(r.expires_at - now).c_str(),
            key.Fingerprint().c_str());
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = registry.add_subcommand(
        "install", "On a host: verify a registry file and make it this host's registry");
    auto file = std::make_shared<std::string>();
    auto key_path = std::make_shared<std::string>();
    cmd->add_option("file", *file, "The signed registry (wire form)")->required();
    cmd->add_option("--key", *key_path,
                    "The management center's public key (PEM), given at setup; needed the first "
                    "time, after that the key recorded then is used");
    cmd->callback([&ctx, file, key_path] {
      Run(ctx, [&]() -> Status {
        Result<crypto::PublicKey> key = key_path->empty() ? exchange::HostManagementKey(ctx.home)
                                                          : crypto::PublicKey::Load(*key_path);
        if (!key.ok()) return key.status();
        TESSERA_ASSIGN_OR_RETURN(std::string wire, ReadTextFile(*file));
        const int64_t now = NowUnixSeconds();
        Result<exchange::InstallReport> report =
            exchange::InstallRegistry(ctx.home, wire, *key, now);
        if (!report.ok()) {
          if (Status st = Audit(ctx, "exchange.registry.install", *file,
                                "refused: " + report.status().message());
              !st.ok())
            std::fprintf(stderr, "warning: %s\n", st.message().c_str());
          return report.status();
        }
        const Registry& r = report->registry;
        if (Status st =
                Audit(ctx, "exchange.registry.install", "serial " + std::to_string(r.serial),
                      report->unchanged ? "unchanged" : "installed from " + *file);
            !st.ok())
          std::fprintf(stderr, "warning: %s\n", st.message().c_str());
        if (ctx.json) {
          PrintJson(
              {{"ok", true},
               {"network", r.network},
               {"serial", r.serial},
               {"previous_serial", report->had_previous ? json(report->previous_serial) : json()},
               {"unchanged", report->unchanged},
               {"expires_at", When(r.expires_at)},
               {"note", report->note},
               {"path", exchange::HostRegistryPath(ctx.home).string()}});
          return Status::Ok();
        }
        if (!report->note.empty()) std::printf("note: %s\n", report->note.c_str());
        if (report->unchanged)
          std::printf("serial %llu of network %s is installed already; nothing changed\n",
                      static_cast<unsigned long long>(r.serial), r.network.c_str());
        else
          std::printf(
              "installed serial %llu of network %s%s; expires %s (in %s)\n",
              static_cast<unsigned long long>(r.serial), r.network.c_str(),
              report->had_previous
                  ? (" (replacing serial " + std::to_string(report->previous_serial) + ")").c_str()
                  : "",
              When(r.expires_at).c_str(), Span(r.expires_at - now).c_str());
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = registry.add_subcommand(
        "status", "On a host: the registry it holds, how old, and how long until it expires");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, exchange::HostManagementKey(ctx.home));
        TESSERA_ASSIGN_OR_RETURN(Registry r, exchange::ReadHostRegistry(ctx.home, key));
        const int64_t now = NowUnixSeconds();
        const bool expired = now >= r.expires_at;
        // A host holding an expired registry refuses all exchange: a scheduler must see it.
        if (expired) ctx.exit_code = kExitBusy;
        if (ctx.json) {
          PrintJson({{"network", r.network},
                     {"serial", r.serial},
                     {"issued_at", When(r.issued_at)},
                     {"expires_at", When(r.expires_at)},
                     {"age_seconds", now - r.issued_at},
                     {"expires_in_seconds", r.expires_at - now},
                     {"expired", expired},
                     {"management_key", key.Fingerprint()},
                     {"counts", CountsJson(r)}});
          return Status::Ok();
        }
        std::printf("network %s, serial %llu, management key %s\n", r.network.c_str(),
                    static_cast<unsigned long long>(r.serial), key.Fingerprint().c_str());
        std::printf("issued %s (%s ago)\n", When(r.issued_at).c_str(),
                    Span(now - r.issued_at).c_str());
        if (expired)
          std::printf(
              "EXPIRED at %s (%s ago): this host refuses all exchange until it holds a "
              "current registry; fetch or install a new one\n",
              When(r.expires_at).c_str(), Span(now - r.expires_at).c_str());
        else
          std::printf("expires %s (in %s)\n", When(r.expires_at).c_str(),
                      Span(r.expires_at - now).c_str());
        const json counts = CountsJson(r);
        std::printf(
            "%d centers, %d agencies (%d suspended), %d groups, %d trust anchors, %d "
            "revoked certificates\n",
            counts["centers"].get<int>(), counts["agencies"].get<int>(),
            counts["suspended"].get<int>(), counts["groups"].get<int>(),
            counts["trust_anchors"].get<int>(), counts["revoked"].get<int>());
        return Status::Ok();
      });
    });
  }
}

}  // namespace

void AddExchangeRegistryCommands(CLI::App& exchange, Context& ctx) {
  auto* registry = exchange.add_subcommand(
      "registry",
      "The signed registry of who takes part: kept and published by the management center, "
      "installed on every host");
  registry->require_subcommand(1);
  {
    auto* cmd = registry->add_subcommand(
        "init", "On the management center: make the signing key and an empty draft");
    auto network = std::make_shared<std::string>();
    cmd->add_option("--network", *network, "The name of this exchange network")->required();
    cmd->callback([&ctx, network] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store,
                                 exchange::ManagementStore::Init(ManagementDir(ctx), *network));
        TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, store.PublicKey());
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "exchange.registry.init", *network, "management key " + key.Fingerprint()));
        if (ctx.json) {
          PrintJson({{"ok", true},
                     {"network", *network},
                     {"public_key", store.PublicKeyPath().string()},
                     {"fingerprint", key.Fingerprint()}});
          return Status::Ok();
        }
        std::printf(
            "registry of network %s started in %s\nmanagement public key: %s\nfingerprint: "
            "%s\nhand the public key to every host (`registry install FILE --key ...`) and "
            "confirm the fingerprint with each apart, on paper or by phone\n",
            network->c_str(), store.dir().c_str(), store.PublicKeyPath().c_str(),
            key.Fingerprint().c_str());
        return Status::Ok();
      });
    });
  }
  AddAgencyCommands(*registry, ctx);
  AddCenterCommands(*registry, ctx);
  AddGroupAnchorRevokePolicyCommands(*registry, ctx);
  AddSuspensionCommands(*registry, ctx);
  AddPublicationCommands(*registry, ctx);
}

}  // namespace tessera::cli
