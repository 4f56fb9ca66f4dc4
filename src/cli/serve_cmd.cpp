// `tessera serve`: runs the daemon roles the settings file configures (server/serve.hpp).
#include <cstdio>

#include "cli/cli.hpp"
#include "server/serve.hpp"

namespace tessera::cli {

void AddServeCommand(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the daemon roles the settings configure: the mail archive's LMTP/SMTP journaling "
      "listener (on 127.0.0.1 unless configured), an exchange center ([exchange] center_id), "
      "an agency gateway ([exchange] agency), the audit log's syslog shipper "
      "([guard.syslog] collector) and the web console over HTTPS ([console], "
      "https://127.0.0.1:8443/ by default)");
  auto lmtp = std::make_shared<std::string>();
  auto smtp = std::make_shared<std::string>();
  cmd->add_option("--lmtp", *lmtp,
                  "LMTP listen address HOST:PORT, 'off' for none (default: [archive] lmtp, "
                  "else 127.0.0.1:10024)");
  cmd->add_option("--smtp", *smtp,
                  "SMTP listen address HOST:PORT, 'off' for none (default: [archive] smtp, "
                  "else 127.0.0.1:10025)");
  auto console = std::make_shared<std::string>();
  cmd->add_option("--console", *console,
                  "The web console's HTTPS address HOST:PORT, 'off' for none (default: "
                  "[console] listen; without a settings file 127.0.0.1:8443)");
  cmd->callback([&app, &ctx, lmtp, smtp, console] {
    // A daemon says what it does: each stored message is logged unless asked otherwise.
    if (app.get_option("--log-level")->count() == 0) ctx.log_level = "info";
    Run(ctx, [&]() -> Status {
      server::ServeConfig config;
      config.home = ctx.home;
      // The embedded default serves the console; a settings file serves it where it says.
      if (ctx.settings.empty()) config.console.emplace();
      TESSERA_RETURN_IF_ERROR(server::ReadServeSettings(ctx.settings, config));
      if (*console == "off") {
        config.console.reset();
      } else if (!console->empty()) {
        if (!config.console) config.console.emplace();
        config.console->listen = *console;
      }
      // The console's vaults open their stores as the command line does ([s3] and
      // [s3.profiles.NAME] of the settings file, --s3-endpoint, --s3-region).
      if (config.console) config.console->api.vault.store_options = ctx.store_options;
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
