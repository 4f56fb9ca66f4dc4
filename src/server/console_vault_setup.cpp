#include "server/console_vault_setup.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/clock.hpp"
#include "server/vault_schedule.hpp"
#include "vault/keyring.hpp"
#include "vault/vault.hpp"

namespace tessera::server {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// As `tessera vault --vault NAME` makes directories of them: nothing that could leave
// HOME/vaults.
bool IsValidVaultName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

bool MayRead(Role r) {
  return r != Role::kClerk;
}
bool MayChange(Role r) {
  return r == Role::kOperator || r == Role::kAdmin;
}

Status InvalidField(const std::string& field, const std::string& message) {
  return Status::InvalidArgument(field + ": " + message);
}

// An error answer; for InvalidArgument whose message starts with a field's name
// ("stores[2].path: …"), the field too, so the page can show it at its place.
ApiResponse ErrorWithField(const Status& st) {
  ApiResponse r = ErrorResponse(st);
  if (st.code() != StatusCode::kInvalidArgument) return r;
  const std::string& m = st.message();
  const size_t colon = m.find(": ");
  if (colon == std::string::npos || colon == 0) return r;
  const std::string field = m.substr(0, colon);
  if (!std::all_of(field.begin(), field.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '.' || c == '[' || c == ']';
      }))
    return r;
  json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error")) return r;
  body["error"]["field"] = field;
  r.body = body.dump();
  return r;
}

// One store of the wizard: its URL for the vault's configuration (no secret in it) and the
// S3 credentials given with it, for the check and the creation only.
struct StoreSpec {
  std::string kind, url, access_key, secret_key;
};

bool SafeInQuery(const std::string& s) {
  return s.find_first_of("&=#+? ") == std::string::npos;
}

Result<StoreSpec> ParseStore(const json& j, const std::string& field) {
  if (!j.is_object())
    return InvalidField(field,
                        "a store is {\"kind\": \"file\", \"path\": \"/srv/store1\"} or {\"kind\": "
                        "\"s3\", \"endpoint\", \"bucket\", \"prefix\", \"region\", \"access_key\", "
                        "\"secret_key\"}");
  StoreSpec s;
  s.kind = j.value("kind", "");
  auto text = [&](const char* key) -> Result<std::string> {
    if (!j.contains(key) || j[key].is_null()) return std::string();
    if (!j[key].is_string()) return InvalidField(field + "." + key, "must be text");
    std::string v = j[key].get<std::string>();
    const size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
  };
  if (s.kind == "file") {
    TESSERA_ASSIGN_OR_RETURN(std::string path, text("path"));
    if (path.empty() || path[0] != '/')
      return InvalidField(field + ".path", "an absolute directory path on the server (from /)");
    for (const auto& part : fs::path(path))
      if (part == "..") return InvalidField(field + ".path", "must not contain ..");
    s.url = "file://" + path;
    return s;
  }
  if (s.kind != "s3") return InvalidField(field + ".kind", "\"file\" or \"s3\"");
  TESSERA_ASSIGN_OR_RETURN(std::string endpoint, text("endpoint"));
  TESSERA_ASSIGN_OR_RETURN(std::string bucket, text("bucket"));
  TESSERA_ASSIGN_OR_RETURN(std::string prefix, text("prefix"));
  TESSERA_ASSIGN_OR_RETURN(std::string region, text("region"));
  TESSERA_ASSIGN_OR_RETURN(s.access_key, text("access_key"));
  // The secret is taken as typed (spaces and all) and never repeated in a message.
  if (j.contains("secret_key") && !j["secret_key"].is_null()) {
    if (!j["secret_key"].is_string()) return InvalidField(field + ".secret_key", "must be text");
    s.secret_key = j["secret_key"].get<std::string>();
  }
  if (bucket.empty()) return InvalidField(field + ".bucket", "the bucket's name is missing");
  if (!endpoint.empty() &&
      ((!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) ||
       !SafeInQuery(endpoint)))
    return InvalidField(field + ".endpoint",
                        "an address such as https://s3.example.gov.tw or http://10.0.0.5:9000");
  if (!SafeInQuery(region)) return InvalidField(field + ".region", "letters, digits and '-'");
  if (s.access_key.empty() != s.secret_key.empty())
    return InvalidField(s.access_key.empty() ? field + ".access_key" : field + ".secret_key",
                        "give the access key id and the secret key together (or neither, to use "
                        "the server's own S3 credentials)");
  if (prefix.find_first_of("?#") != std::string::npos)
    return InvalidField(field + ".prefix", "must not contain ? or #");
  s.url = "s3://" + bucket;
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(prefix.begin());
  if (!prefix.empty()) s.url += "/" + prefix;
  char sep = '?';
  if (!endpoint.empty()) s.url += std::string(1, sep) + "endpoint=" + endpoint, sep = '&';
  if (!region.empty()) s.url += std::string(1, sep) + "region=" + region;
  return s;
}

// The store's address without the query (where the endpoint is) for people.
std::string Location(const std::string& url) {
  return url.substr(0, url.find('?'));
}

store::StoreOptions WithCredentials(store::StoreOptions o, const StoreSpec& s) {
  if (!s.access_key.empty()) {
    o.s3_access_key = s.access_key;
    o.s3_secret_key = s.secret_key;
  }
  return o;
}

std::string RandomHex() {
  static const char* hex = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 2; ++i)
    for (uint32_t v = rd(), j = 0; j < 8; ++j, v >>= 4) out += hex[v & 15];
  return out;
}

json BodyOf(const ApiCall& call) {
  return call.request.body.empty()
             ? json::object()
             : json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
}

std::string DaysText(const std::vector<int>& days) {
  std::string out;
  for (int d : days) out += (out.empty() ? "" : ",") + std::to_string(d);
  return out;
}

}  // namespace

struct VaultSetupApi::Impl {
  fs::path home;
  VaultSetupOptions options;
  std::shared_ptr<VaultScheduler> scheduler;

  vault::VaultContext Context(const std::string& name) const {
    vault::VaultContext ctx;
    ctx.home = home.string();
    ctx.name = name;
    ctx.store_options = options.store_options;
    return ctx;
  }

  static ApiResponse Refused(const ApiCall& call, const std::string& action,
                             const std::string& target, const Status& why) {
    if (Status st = call.audit(action, target, "refused: " + why.message()); !st.ok())
      return ErrorResponse(st);
    return ErrorWithField(why);
  }

  // POST /api/v1/vault-stores/check
  ApiResponse Check(const ApiCall& call) {
    const std::string action = "vault.store-check";
    const json body = BodyOf(call);
    auto spec = ParseStore(body, "store");
    if (!spec.ok()) return Refused(call, action, "(store)", spec.status());
    const std::string location = Location(spec->url);
    if (Status st = call.audit(action, location, "checking the store"); !st.ok())
      return ErrorResponse(st);
    store::StoreOptions probe = WithCredentials(options.store_options, *spec);
    probe.retries = 0;
    probe.timeout_seconds = std::min(probe.timeout_seconds, 10.0);
    json out = {{"location", location}, {"kind", spec->kind},  {"reachable", false},
                {"exists", false},      {"writable", nullptr}, {"empty", nullptr},
                {"holds_vault", false}, {"ok", false}};
    auto opened = store::OpenStore(spec->url, probe);
    if (!opened.ok()) {
      if (opened.status().code() == StatusCode::kInvalidArgument)
        return ErrorWithField(InvalidField("store", opened.status().message()));
      out["problem"] = opened.status().message();
      return JsonResponse(200, out);
    }
    store::ObjectStore& st = **opened;
    Status ping = st.Ping();
    std::error_code ec;
    // A missing directory is Unavailable to the store, but no problem for a new vault.
    const bool missing_dir =
        spec->kind == "file" && !fs::exists(fs::path(spec->url.substr(7)), ec) && !ec;
    if (ping.code() == StatusCode::kNotFound || missing_dir) {
      // Not there yet: `vault init` makes the directory (or bucket).
      out["reachable"] = true;
      if (spec->kind == "file") {
        fs::path p = spec->url.substr(7);
        while (!p.empty() && p != p.root_path() && !fs::exists(p, ec)) p = p.parent_path();
        out["writable"] = ::access(p.c_str(), W_OK | X_OK) == 0;
        if (!out["writable"].get<bool>())
          out["problem"] = "the directory does not exist and " + p.string() +
                           " is not writable for the server, so it cannot be made";
      }
      out["empty"] = true;
      out["note"] = "does not exist yet: it is created with the vault";
      out["ok"] = out["writable"].is_null() || out["writable"].get<bool>();
      return JsonResponse(200, out);
    }
    if (!ping.ok()) {
      out["reachable"] = ping.code() == StatusCode::kPermissionDenied;
      if (ping.code() == StatusCode::kPermissionDenied) out["writable"] = false;
      out["problem"] = ping.message();
      return JsonResponse(200, out);
    }
    out["reachable"] = true;
    out["exists"] = true;
    auto list = st.List("");
    if (!list.ok()) {
      out["problem"] = list.status().message();
      return JsonResponse(200, out);
    }
    out["empty"] = list->empty();
    out["objects"] = list->size();
    auto descriptor = st.Stat(vault::kDescriptorName);
    out["holds_vault"] = descriptor.ok();
    const std::string probe_name = "tessera-check-" + RandomHex();
    Status put = st.Put(probe_name, AsBytes("tessera store check"));
    out["writable"] = put.ok();
    if (put.ok()) {
      (void)st.Delete(probe_name);
    } else {
      out["problem"] = put.message();
    }
    if (descriptor.ok())
      out["problem"] = "the store already holds a vault: use an empty location for each store";
    out["ok"] = put.ok() && !descriptor.ok();
    return JsonResponse(200, out);
  }

  // POST /api/v1/vaults
  ApiResponse Create(const ApiCall& call) {
    const std::string action = "vault.init";
    const json body = BodyOf(call);
    const std::string target = body.is_object() && body.value("name", json(nullptr)).is_string()
                                   ? body.value("name", "")
                                   : "(vault)";
    auto refuse = [&](const Status& why) { return Refused(call, action, target, why); };
    if (!body.is_object())
      return refuse(Status::InvalidArgument(
          "a new vault is {\"name\": \"公文備份\", \"k\": 2, \"stores\": [...], \"passphrase\": "
          "\"…\"}"));
    const std::string name = target;
    if (!IsValidVaultName(name))
      return refuse(InvalidField("name",
                                 "letters, digits, '.', '_' and '-' (up to 128, not starting with "
                                 "'.'): it becomes a directory name"));
    const json stores = body.value("stores", json(nullptr));
    if (!stores.is_array() || stores.size() < 2)
      return refuse(InvalidField("stores", "at least 2 stores: a vault is split over several"));
    std::vector<StoreSpec> specs;
    for (size_t i = 0; i < stores.size(); ++i) {
      auto s = ParseStore(stores[i], "stores[" + std::to_string(i) + "]");
      if (!s.ok()) return refuse(s.status());
      specs.push_back(*s);
    }
    const int n = static_cast<int>(specs.size());
    const json k = body.value("k", json(nullptr));
    if (!k.is_number_integer() || k.get<int64_t>() < 1 || k.get<int64_t>() > n)
      return refuse(InvalidField("k",
                                 "how many stores suffice to restore: 1 to the number of "
                                 "stores (" +
                                     std::to_string(n) + ")"));
    std::set<std::pair<std::string, std::string>> credentials;
    for (const StoreSpec& s : specs)
      if (!s.access_key.empty()) credentials.insert({s.access_key, s.secret_key});
    if (credentials.size() > 1)
      return refuse(
          InvalidField("stores",
                       "S3 stores with different access keys cannot be created together from the "
                       "console: use one key for all, or `tessera vault init` with profiles"));
    std::optional<std::string> passphrase;
    if (body.contains("passphrase") && !body["passphrase"].is_null()) {
      if (!body["passphrase"].is_string())
        return refuse(InvalidField("passphrase", "must be text"));
      const std::string p = body["passphrase"].get<std::string>();
      if (!p.empty() && p.size() < 8)
        return refuse(InvalidField("passphrase", "at least 8 characters"));
      if (!p.empty()) passphrase = p;
    }
    vault::VaultContext ctx = Context(name);
    std::error_code ec;
    if (fs::exists(ctx.ConfigPath(), ec))
      return refuse(
          Status::AlreadyExists("a vault named '" + name + "' is already set up on this server"));
    vault::InitOptions o;
    for (const StoreSpec& s : specs) o.stores.push_back(s.url);
    o.threshold = k.get<int>();
    o.protect_with_passphrase = passphrase.has_value();
    ctx.passphrase = passphrase;
    if (!credentials.empty()) {
      ctx.store_options.s3_access_key = credentials.begin()->first;
      ctx.store_options.s3_secret_key = credentials.begin()->second;
    }
    std::string describe =
        "creating a " + std::to_string(o.threshold) + "-of-" + std::to_string(n) + " vault over";
    for (const StoreSpec& s : specs) describe += " " + Location(s.url);
    if (passphrase) describe += "; key protected by a passphrase";
    if (Status st = call.audit(action, name, describe); !st.ok()) return ErrorResponse(st);
    auto made = vault::InitVault(ctx, o);
    if (!made.ok()) {
      (void)call.audit(action, name, "failed: " + made.status().message());
      return ErrorWithField(made.status());
    }
    json locations = json::array();
    for (const std::string& url : made->config.stores) locations.push_back(Location(url));
    const bool server_can_open = !passphrase || (options.passphrase == passphrase);
    ApiResponse r = JsonResponse(201, {{"name", name},
                                       {"vault_id", made->config.vault_id},
                                       {"k", made->config.k},
                                       {"n", made->config.n},
                                       {"stores", locations},
                                       {"key_protected", passphrase.has_value()},
                                       {"server_can_open", server_can_open}});
    r.headers.emplace_back("Location", "/api/v1/vaults/" + name);
    return r;
  }

  Result<vault::VaultConfig> Config(const std::string& name) const {
    std::error_code ec;
    if (!IsValidVaultName(name) || !fs::exists(Context(name).ConfigPath(), ec))
      return Status::NotFound("no vault named '" + name + "' is set up on this server");
    return vault::LoadLocalConfig(Context(name));
  }

  json ScheduleAnswer(const std::string& name, const vault::VaultConfig& config,
                      const VaultSchedule& s) {
    json j = ScheduleToJson(s);
    const int64_t nb = BackupDue(s), nd = DrillDue(s);
    j["vault"] = name;
    j["k"] = config.k;
    j["n"] = config.n;
    j["time_zone"] = "Asia/Taipei";
    j["next_backup"] = nb == 0 ? json(nullptr) : json(FormatRfc3339(nb * 1000000000));
    j["next_drill"] = nd == 0 ? json(nullptr) : json(FormatRfc3339(nd * 1000000000));
    j["runner"] = scheduler != nullptr;
    return j;
  }

  ApiResponse GetSchedule(const std::string& name) {
    auto config = Config(name);
    if (!config.ok()) return ErrorResponse(config.status());
    auto s = LoadSchedule(home, name);
    if (!s.ok()) return ErrorResponse(s.status());
    return JsonResponse(200, ScheduleAnswer(name, *config, s->value_or(VaultSchedule{})));
  }

  ApiResponse PutSchedule(const ApiCall& call, const std::string& name) {
    const std::string action = "vault.schedule";
    auto refuse = [&](const Status& why) { return Refused(call, action, name, why); };
    auto config = Config(name);
    if (!config.ok()) return refuse(config.status());
    const json body = BodyOf(call);
    if (!body.is_object())
      return refuse(Status::InvalidArgument(
          "a schedule is {\"backup\": {\"days\": [1, 3, 5], \"time\": \"02:30\", \"paths\": "
          "[\"/srv/data\"]} or null, \"drill\": {\"day\": 1, \"time\": \"03:00\", \"lose\": 1} "
          "or null}"));
    std::optional<BackupSchedule> backup;
    std::optional<DrillSchedule> drill;
    if (body.contains("backup") && !body["backup"].is_null()) {
      auto b = ParseBackupSchedule(body["backup"]);
      if (!b.ok()) return refuse(b.status());
      backup = *b;
    }
    if (body.contains("drill") && !body["drill"].is_null()) {
      auto d = ParseDrillSchedule(body["drill"]);
      if (!d.ok()) return refuse(d.status());
      const int spare = config->n - config->k;
      if (d->lose > spare)
        return refuse(InvalidField("drill.lose", "at most " + std::to_string(spare) + " of the " +
                                                     std::to_string(config->n) +
                                                     " stores may be treated as lost: a "
                                                     "restore needs " +
                                                     std::to_string(config->k)));
      drill = *d;
    }
    std::string describe = "set:";
    describe += backup ? " backup on days " + DaysText(backup->days) + " at " +
                             FormatTimeOfDay(backup->minute) + " Taiwan time of " +
                             std::to_string(backup->paths.size()) + " path(s)"
                       : " no backup";
    describe += drill ? "; drill on day " + std::to_string(drill->day) + " at " +
                            FormatTimeOfDay(drill->minute) + ", " + std::to_string(drill->lose) +
                            " store(s) lost"
                      : "; no drill";
    if (Status st = call.audit(action, name, describe); !st.ok()) return ErrorResponse(st);
    VaultSchedule saved;
    Status st = UpdateSchedule(home, name, [&](VaultSchedule& s) -> Result<bool> {
      s.backup = backup;
      s.drill = drill;
      s.since = call.request.now;
      s.set_by = call.session.account;
      saved = s;
      return true;
    });
    if (!st.ok()) return ErrorResponse(st);
    return JsonResponse(200, ScheduleAnswer(name, *config, saved));
  }

  ApiResponse RunNow(const ApiCall& call, const std::string& name) {
    const std::string action = "vault.schedule";
    auto refuse = [&](const Status& why) { return Refused(call, action, name, why); };
    auto config = Config(name);
    if (!config.ok()) return refuse(config.status());
    const json body = BodyOf(call);
    const std::string kind = body.is_object() ? body.value("kind", "backup") : "";
    if (kind != "backup" && kind != "drill")
      return refuse(InvalidField("kind", "\"backup\" or \"drill\""));
    if (!scheduler)
      return refuse(Status::Unavailable(
          "schedules are run by `tessera serve`; this server has no schedule runner"));
    if (Status st = call.audit(action, name, "run the scheduled " + kind + " now"); !st.ok())
      return ErrorResponse(st);
    auto job = scheduler->RunNow(name, kind, call.session.account,
                                 std::string(RoleName(call.session.role)));
    if (!job.ok()) return ErrorWithField(job.status());
    return JsonResponse(202, {{"job", *job}});
  }

  ApiResponse Route(const ApiCall& call) {
    const std::vector<std::string>& p = call.parts;
    const std::string& method = call.request.method;
    const bool read = method == "GET" || method == "HEAD";
    const Role role = call.session.role;
    const bool schedule = p[0] == "vaults" && p.size() >= 3;
    const std::string action = schedule                 ? "vault.schedule"
                               : p[0] == "vault-stores" ? "vault.store-check"
                                                        : "vault.init";
    if (!(read ? MayRead(role) : MayChange(role))) {
      const std::string why =
          call.session.account + " (" + std::string(RoleName(role)) + ") may not " +
          (read ? "see the vaults' schedules" : "set up vaults or change their schedules") +
          ": that is for " +
          (read ? "auditors, records officers, operators and admins" : "operators and admins");
      if (Status st = call.audit(action, call.path, "denied: " + why); !st.ok())
        return ErrorResponse(st);
      return ErrorResponse(403, "permission_denied", why);
    }
    if (p[0] == "vault-stores") {
      if (p.size() == 2 && p[1] == "check" && method == "POST") return Check(call);
      return ErrorResponse(404, "not_found", "no such resource: " + method + " " + call.path);
    }
    if (p.size() == 1) return Create(call);  // Handles: POST only
    const std::string& name = p[1];
    if (p.size() == 3) {
      if (read) return GetSchedule(name);
      if (method == "PUT") return PutSchedule(call, name);
      return ErrorResponse(405, "method_not_allowed", "use GET or PUT on " + call.path);
    }
    if (p.size() == 4 && p[3] == "run" && method == "POST") return RunNow(call, name);
    return ErrorResponse(404, "not_found", "no such resource: " + method + " " + call.path);
  }
};

VaultSetupApi::VaultSetupApi(fs::path home, VaultSetupOptions options,
                             std::shared_ptr<VaultScheduler> scheduler)
    : impl_(
          std::make_unique<Impl>(Impl{std::move(home), std::move(options), std::move(scheduler)})) {
}

VaultSetupApi::~VaultSetupApi() = default;

bool VaultSetupApi::Handles(const ApiCall& call) {
  const std::vector<std::string>& p = call.parts;
  if (p.empty()) return false;
  if (p[0] == "vault-stores") return true;
  if (p[0] != "vaults") return false;
  if (p.size() == 1) return call.request.method == "POST";
  return (p.size() == 3 && p[2] == "schedule") ||
         (p.size() == 4 && p[2] == "schedule" && p[3] == "run");
}

ApiResponse VaultSetupApi::Handle(const ApiCall& call) {
  if (!Handles(call)) return ErrorResponse(404, "not_found", "no such resource: " + call.path);
  return impl_->Route(call);
}

}  // namespace tessera::server
