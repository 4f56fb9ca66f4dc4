// tessera: one program for split backup, mail archive and document exchange.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/log.hpp"
#include "base/memory.hpp"
#include "cli/cli.hpp"

int main(int argc, char** argv) {
  tessera::TuneAllocatorForLargeBuffers();
  tessera::cli::Context ctx;
  CLI::App app{
      "tessera: keeps a government's documents and mail safe, exchangeable and "
      "recoverable"};
  app.set_version_flag("--version", "tessera 0.1.0");
  app.require_subcommand(1);
  // Global options may also follow the subcommand: `tessera vault backup --json`.
  app.fallthrough();
  app.option_defaults()->always_capture_default();
  app.add_option("--home", ctx.home,
                 "Directory of local state (default: $TESSERA_HOME, else ./var)");
  app.add_option("--config,--settings", ctx.settings,
                 "Settings file (default: $TESSERA_CONFIG, else ./tessera.toml if present)");
  app.add_option("--vault", ctx.vault_name, "Name of the vault to use")->capture_default_str();
  app.add_flag("--json", ctx.json, "Machine-readable output (JSON)");
  app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error or off");
  app.add_option("--threads", ctx.threads, "Worker threads (default: one per core)");
  app.add_option("--s3-endpoint", ctx.store_options.s3_endpoint,
                 "S3 endpoint for s3:// stores (else ?endpoint= in the URL, tessera.toml, "
                 "$TESSERA_S3_ENDPOINT)");
  app.add_option("--s3-region", ctx.store_options.s3_region, "S3 region (default us-east-1)");
  tessera::cli::AddVaultCommands(app, ctx);
  tessera::cli::AddArchiveCommands(app, ctx);
  tessera::cli::AddServeCommand(app, ctx);
  tessera::cli::AddExchangeCommands(app, ctx);
  tessera::cli::AddPkiCommands(app, ctx);
  tessera::cli::AddGuardCommands(app, ctx);
  tessera::cli::AddReleaseCommands(app, ctx);
  tessera::cli::AddConsoleCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : tessera::cli::kExitUsage;
  }
  return ctx.exit_code;
}
