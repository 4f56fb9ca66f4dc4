// `tessera serve`: runs the daemon roles (today: the archive's journaling listener).
#include <toml++/toml.h>

#include <cstdio>
#include <sstream>

#include "cli/cli.hpp"
#include "server/serve.hpp"

namespace tessera::cli {
namespace {

// The [archive] table of the settings file over the defaults.
Status ReadArchiveSettings(const std::string& settings, server::ArchiveRoleConfig& config) {
  if (settings.empty()) return Status::Ok();
  try {
    toml::table t = toml::parse_file(settings);
    auto a = t["archive"];
    config.lmtp = a["lmtp"].value_or(config.lmtp);
    config.smtp = a["smtp"].value_or(config.smtp);
    config.hostname = a["hostname"].value_or(config.hostname);
    config.journal.recipients_header =
        a["recipients_header"].value_or(config.journal.recipients_header);
    if (auto mib = a["max_message_mib"].value<int64_t>()) {
      if (*mib < 1 || *mib > 4096)
        return Status::InvalidArgument("settings file " + settings +
                                       ": [archive] max_message_mib must be 1 to 4096");
      config.max_message_bytes = static_cast<uint64_t>(*mib) << 20;
    }
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return Status::InvalidArgument("settings file " + settings + " is not valid TOML at " +
                                   where.str() + ": " + std::string(e.description()));
  }
  return Status::Ok();
}

}  // namespace

void AddServeCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the daemon roles: the mail archive's LMTP/SMTP journaling listener (on 127.0.0.1 "
      "unless configured)");
  auto lmtp = std::make_shared<std::string>();
  auto smtp = std::make_shared<std::string>();
  cmd->add_option("--lmtp", *lmtp,
                  "LMTP listen address HOST:PORT, 'off' for none (default: [archive] lmtp, "
                  "else 127.0.0.1:10024)");
  cmd->add_option("--smtp", *smtp,
                  "SMTP listen address HOST:PORT, 'off' for none (default: [archive] smtp, "
                  "else 127.0.0.1:10025)");
  cmd->callback([&app, &ctx, lmtp, smtp] {
    // A daemon says what it does: each stored message is logged unless asked otherwise.
    if (app.get_option("--log-level")->count() == 0) ctx.log_level = "info";
    Run(ctx, [&]() -> Status {
      server::ServeConfig config;
      config.home = ctx.home;
      TESSERA_RETURN_IF_ERROR(ReadArchiveSettings(ctx.settings, config.archive));
      if (!lmtp->empty()) config.archive.lmtp = *lmtp == "off" ? "" : *lmtp;
      if (!smtp->empty()) config.archive.smtp = *smtp == "off" ? "" : *smtp;
      return server::Serve(config, [](const std::string& text) {
        std::printf("%s\n", text.c_str());
        std::fflush(stdout);
      });
    });
  });
}

}  // namespace tessera::cli
