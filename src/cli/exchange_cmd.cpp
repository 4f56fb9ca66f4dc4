// `tessera exchange ...`: 公文 exchange between agencies (docs/exchange-protocol.md).
#include "cli/cli.hpp"

namespace tessera::cli {

void AddExchangeCommands(CLI::App& app, Context& ctx) {
  CLI::App* exchange = app.add_subcommand(
      "exchange", "Official-document (公文) exchange: documents, registry, sending, receiving");
  exchange->require_subcommand(1);
  AddExchangeDocumentCommands(*exchange, ctx);
  AddExchangeRegistryCommands(*exchange, ctx);
}

}  // namespace tessera::cli
