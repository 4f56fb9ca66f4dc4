// ReadServeSettings (server/serve.hpp): the settings file's tables for the roles of
// `tessera serve`.
#include <toml++/toml.h>

#include <unistd.h>

#include <sstream>

#include "base/host.hpp"
#include "server/serve.hpp"

namespace tessera::server {
namespace {

Status ReadArchive(const toml::table& t, const std::string& file, ArchiveRoleConfig& config) {
  auto a = t["archive"];
  config.lmtp = a["lmtp"].value_or(config.lmtp);
  config.smtp = a["smtp"].value_or(config.smtp);
  config.hostname = a["hostname"].value_or(config.hostname);
  config.journal.recipients_header =
      a["recipients_header"].value_or(config.journal.recipients_header);
  if (auto mib = a["max_message_mib"].value<int64_t>()) {
    if (*mib < 1 || *mib > 4096)
      return Status::InvalidArgument("settings file " + file +
                                     ": [archive] max_message_mib must be 1 to 4096");
    config.max_message_bytes = static_cast<uint64_t>(*mib) << 20;
  }
  return Status::Ok();
}

Status ReadSeconds(toml::node_view<const toml::node> table, const char* key,
                   const std::string& where, int64_t low, int64_t high, std::chrono::seconds& out) {
  if (!table[key]) return Status::Ok();
  auto v = table[key].value<int64_t>();
  if (!v || *v < low || *v > high)
    return Status::InvalidArgument(where + " " + key + " must be a number of seconds, " +
                                   std::to_string(low) + " to " + std::to_string(high));
  out = std::chrono::seconds(*v);
  return Status::Ok();
}

Status ReadExchangeRole(const toml::table& t, const std::string& file, ExchangeRoleConfig& c) {
  auto e = t["exchange"];
  const std::string where = "settings file " + file + ": [exchange]";
  if (e["publish_registry"] && !e["publish_registry"].is_boolean())
    return Status::InvalidArgument(where + " publish_registry must be true or false");
  c.publish_registry = e["publish_registry"].value_or(c.publish_registry);
  TESSERA_RETURN_IF_ERROR(ReadSeconds(e, "receive_wait", where, 1, 60, c.gateway.receive_wait));
  TESSERA_RETURN_IF_ERROR(ReadSeconds(e, "flush_period", where, 1, 86400, c.gateway.flush_period));
  TESSERA_RETURN_IF_ERROR(
      ReadSeconds(e, "health_period", where, 1, 7 * 86400, c.gateway.health_period));
  return Status::Ok();
}

Status ReadSyslog(const toml::table& t, const std::string& file,
                  std::optional<guard::SyslogShipOptions>& out) {
  auto g = t["guard"]["syslog"];
  if (!g) return Status::Ok();
  const std::string where = "settings file " + file + ": [guard.syslog]";
  guard::SyslogShipOptions o = out.value_or(guard::SyslogShipOptions{});
  o.collector = g["collector"].value_or(o.collector);
  if (o.collector.empty()) return Status::Ok();  // the table without a collector: off
  o.ca = g["ca"].value_or(o.ca);
  o.cert = g["cert"].value_or(o.cert);
  o.key = g["key"].value_or(o.key);
  o.server_name = g["server_name"].value_or(o.server_name);
  o.hostname = g["hostname"].value_or(o.hostname);
  o.facility = g["facility"].value_or(o.facility);
  o.sd_id = g["sd_id"].value_or(o.sd_id);
  for (auto [key, field, low, high] : {std::tuple{"period", &o.period, 0.1, 86400.0},
                                       std::tuple{"timeout", &o.timeout, 0.1, 600.0}}) {
    if (!g[key]) continue;
    auto v = g[key].value<double>();
    if (!v || *v < low || *v > high)
      return Status::InvalidArgument(where + " " + key + " must be a number of seconds, " +
                                     std::to_string(low) + " to " + std::to_string(high));
    *field = *v;
  }
  if (g["batch"]) {
    auto v = g["batch"].value<int64_t>();
    if (!v || *v < 1 || *v > 100000)
      return Status::InvalidArgument(where + " batch must be 1 to 100000");
    o.batch = static_cast<size_t>(*v);
  }
  out = o;
  return Status::Ok();
}

Status ReadRelease(const toml::table& t, const std::string& file,
                   std::optional<guard::InstalledRelease>& out, std::chrono::seconds& recheck) {
  auto g = t["guard"]["release"];
  if (!g) return Status::Ok();
  const std::string where = "settings file " + file + ": [guard.release]";
  guard::InstalledRelease r;
  for (auto [key, field] : {std::pair{"release", &r.release}, std::pair{"directory", &r.directory},
                            std::pair{"key", &r.key}}) {
    const std::string value = g[key].value_or(std::string());
    if (value.empty())
      return Status::InvalidArgument(where + " " + key +
                                     " is missing (release = the signed release file, directory "
                                     "= where it is installed, key = the publisher's public key)");
    *field = value;
  }
  const std::string policy = g["policy"].value_or(std::string("refuse"));
  if (policy != "refuse" && policy != "warn")
    return Status::InvalidArgument(where + " policy must be \"refuse\" or \"warn\", not \"" +
                                   policy + "\"");
  r.refuse = policy == "refuse";
  TESSERA_RETURN_IF_ERROR(ReadSeconds(g, "recheck_period", where, 10, 7 * 86400, recheck));
  out = std::move(r);
  return Status::Ok();
}

Status ReadIntegrity(const toml::table& t, const std::string& file,
                     std::optional<IntegrityRoleConfig>& out) {
  auto g = t["guard"]["integrity"];
  if (!g) return Status::Ok();
  const std::string where = "settings file " + file + ": [guard.integrity]";
  IntegrityRoleConfig c;
  c.watch.baseline = g["baseline"].value_or(std::string());
  c.watch.key = g["key"].value_or(std::string());
  TESSERA_RETURN_IF_ERROR(ReadSeconds(g, "period", where, 10, 7 * 86400, c.watch.period));
  for (auto [key, field] :
       {std::pair{"inotify", &c.watch.inotify}, std::pair{"refuse_start", &c.refuse_start},
        std::pair{"refuse_exchange", &c.refuse_exchange}}) {
    if (!g[key]) continue;
    if (!g[key].is_boolean())
      return Status::InvalidArgument(where + " " + key + " must be true or false");
    *field = g[key].value_or(*field);
  }
  out = std::move(c);
  return Status::Ok();
}

Status ReadCheckpoints(const toml::table& t, const std::string& file,
                       std::optional<AuditCheckpointConfig>& out) {
  auto g = t["guard"]["audit"];
  if (!g || !g["checkpoint_period"]) return Status::Ok();
  const std::string where = "settings file " + file + ": [guard.audit]";
  AuditCheckpointConfig c;
  TESSERA_RETURN_IF_ERROR(ReadSeconds(g, "checkpoint_period", where, 1, 7 * 86400, c.period));
  c.copy_dir = g["checkpoint_copy"].value_or(std::string());
  out = std::move(c);
  return Status::Ok();
}

// [console]: the table turns the console on (listen = "" turns it off again).
Status ReadConsole(const toml::table& t, const std::string& file,
                   std::optional<ConsoleConfig>& out) {
  auto c = t["console"];
  if (!c) return Status::Ok();
  const std::string where = "settings file " + file + ": [console]";
  ConsoleConfig o = out.value_or(ConsoleConfig{});
  o.listen = c["listen"].value_or(o.listen);
  if (o.listen.empty()) {
    out.reset();
    return Status::Ok();
  }
  if (auto l = ParseListenAddress(o.listen); !l.ok())
    return Status::InvalidArgument(where + " listen: " + l.status().message());
  o.certificate = c["certificate"].value_or(o.certificate.string());
  o.key = c["key"].value_or(o.key.string());
  if (o.certificate.empty() != o.key.empty())
    return Status::InvalidArgument(where +
                                   " certificate and key go together: set both, or "
                                   "neither for a self-signed certificate");
  o.web_root = c["web_root"].value_or(o.web_root.string());
  o.api.archive.restore_relay = c["restore_relay"].value_or(o.api.archive.restore_relay);
  if (auto relay = archive::ParseSmtpUrl(o.api.archive.restore_relay); !relay.ok())
    return Status::InvalidArgument(where + " restore_relay: " + relay.status().message());
  if (c["sign_in_limit"]) {
    auto v = c["sign_in_limit"].value<int64_t>();
    if (!v || *v < 1 || *v > 10000)
      return Status::InvalidArgument(where + " sign_in_limit must be a number, 1 to 10000");
    o.api.sign_in_limit = static_cast<int>(*v);
  }
  std::chrono::seconds window{o.api.sign_in_window};
  TESSERA_RETURN_IF_ERROR(ReadSeconds(c, "sign_in_window", where, 1, 86400, window));
  o.api.sign_in_window = window.count();
  std::chrono::seconds idle{o.sign_in.idle_seconds}, absolute{o.sign_in.absolute_seconds},
      lockout{o.sign_in.lockout_seconds};
  TESSERA_RETURN_IF_ERROR(ReadSeconds(c, "session_idle", where, 60, 86400, idle));
  TESSERA_RETURN_IF_ERROR(ReadSeconds(c, "session_max", where, 60, 7 * 86400, absolute));
  TESSERA_RETURN_IF_ERROR(ReadSeconds(c, "lockout", where, 1, 86400, lockout));
  o.sign_in.idle_seconds = idle.count();
  o.sign_in.absolute_seconds = absolute.count();
  o.sign_in.lockout_seconds = lockout.count();
  if (auto l = c["ldap"]; l) {
    const std::string at = "settings file " + file + ": [console.ldap]";
    LdapOptions ldap;
    ldap.url = l["url"].value_or(std::string());
    ldap.user_dn = l["user_dn"].value_or(std::string());
    if (l["start_tls"] && !l["start_tls"].is_boolean())
      return Status::InvalidArgument(at + " start_tls must be true or false");
    ldap.start_tls = l["start_tls"].value_or(false);
    ldap.ca = l["ca"].value_or(std::string());
    TESSERA_RETURN_IF_ERROR(ReadSeconds(l, "timeout", at, 1, 300, ldap.timeout));
    if (Status st = CheckLdapOptions(ldap); !st.ok())
      return Status::InvalidArgument(at + " " + st.message());
    o.ldap = std::move(ldap);
  }
  out = std::move(o);
  return Status::Ok();
}

Status ReadAlert(const toml::table& t, const std::string& file,
                 std::optional<MailAlertOptions>& out) {
  auto g = t["guard"]["alert"];
  if (!g) return Status::Ok();
  const std::string where = "settings file " + file + ": [guard.alert]";
  MailAlertOptions o;
  const std::string smtp = g["smtp"].value_or(std::string());
  if (smtp.empty())
    return Status::InvalidArgument(where +
                                   " smtp is missing: the agency's relay, e.g. "
                                   "\"smtp://mail.agency.gov.tw:25\"");
  auto relay = archive::ParseSmtpUrl(smtp);
  if (!relay.ok()) return Status::InvalidArgument(where + " smtp: " + relay.status().message());
  o.relay = *relay;
  o.relay.timeout = std::chrono::seconds(30);
  if (auto to = g["to"].as_array()) {
    for (const toml::node& n : *to) {
      auto address = n.value<std::string>();
      if (!address || address->find('@') == std::string::npos)
        return Status::InvalidArgument(where + " to must list mail addresses");
      o.to.push_back(*address);
    }
  }
  if (o.to.empty())
    return Status::InvalidArgument(where +
                                   " to is missing: the addresses alerts go to, e.g. "
                                   "to = [\"soc@agency.gov.tw\"]");
  o.from = g["from"].value_or(std::string());
  if (o.from.empty()) o.from = "tessera@" + HostName();
  if (o.from.find('@') == std::string::npos)
    return Status::InvalidArgument(where + " from must be a mail address");
  o.relay.helo = o.from.substr(o.from.find('@') + 1);
  out = std::move(o);
  return Status::Ok();
}

Status ReadReportPolicy(const toml::table& t, const std::string& file, ReportPolicy& out) {
  auto g = t["guard"]["report"];
  const std::string where = "settings file " + file + ": [guard.report]";
  for (auto [key, field, unit, high] :
       {std::tuple{"backup_max_age_hours", &out.backup_max_age, int64_t{3600}, int64_t{24 * 366}},
        std::tuple{"drill_max_age_days", &out.drill_max_age, int64_t{86400}, int64_t{3660}}}) {
    if (!g[key]) continue;
    auto v = g[key].value<int64_t>();
    if (!v || *v < 1 || *v > high)
      return Status::InvalidArgument(where + " " + key + " must be 1 to " + std::to_string(high));
    *field = *v * unit;
  }
  return Status::Ok();
}

}  // namespace

Status ReadServeSettings(const std::string& file, ServeConfig& config) {
  if (file.empty()) return Status::Ok();
  TESSERA_RETURN_IF_ERROR(ReadExchangeSettings(file, config.exchange.settings));
  try {
    toml::table t = toml::parse_file(file);
    TESSERA_RETURN_IF_ERROR(ReadArchive(t, file, config.archive));
    TESSERA_RETURN_IF_ERROR(ReadConsole(t, file, config.console));
    TESSERA_RETURN_IF_ERROR(ReadExchangeRole(t, file, config.exchange));
    TESSERA_RETURN_IF_ERROR(ReadSyslog(t, file, config.syslog));
    TESSERA_RETURN_IF_ERROR(ReadRelease(t, file, config.release, config.release_recheck_period));
    TESSERA_RETURN_IF_ERROR(ReadIntegrity(t, file, config.integrity));
    TESSERA_RETURN_IF_ERROR(ReadCheckpoints(t, file, config.checkpoints));
    TESSERA_RETURN_IF_ERROR(ReadAlert(t, file, config.alert));
    TESSERA_RETURN_IF_ERROR(ReadReportPolicy(t, file, config.report));
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return Status::InvalidArgument("settings file " + file + " is not valid TOML at " +
                                   where.str() + ": " + std::string(e.description()));
  }
  return Status::Ok();
}

}  // namespace tessera::server
