// Placeholder: filled in by the work on issue #4.
#include "cli/cli.hpp"

namespace tessera::cli {

void AddExchangeRegistryCommands(CLI::App& /*exchange*/, Context& /*ctx*/) {}

}  // namespace tessera::cli
