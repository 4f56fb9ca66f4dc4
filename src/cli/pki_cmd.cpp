// Placeholder: filled in by the work on issue #4.
#include "cli/cli.hpp"

namespace tessera::cli {

void AddPkiCommands(CLI::App& /*app*/, Context& /*ctx*/) {}

}  // namespace tessera::cli
