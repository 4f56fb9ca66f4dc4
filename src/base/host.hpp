// The name of the machine, as gethostname(2) gives it.
#pragma once

#include <string>

namespace tessera {

// This host's name; "localhost" when the system has none.
std::string HostName();

}  // namespace tessera
