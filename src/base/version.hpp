// The version of tessera, as reports, manifests and `--version` state it: the CMake
// project's version, passed in by the build.
#pragma once

namespace tessera {

#ifdef TESSERA_VERSION
inline constexpr char kTesseraVersion[] = TESSERA_VERSION;
#else
inline constexpr char kTesseraVersion[] = "unknown";
#endif

}  // namespace tessera
