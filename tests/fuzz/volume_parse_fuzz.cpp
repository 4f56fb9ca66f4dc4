// libFuzzer target for offline volumes (archive/volume): the manifest parser, and the
// verification of a whole volume file (tar reading included). A manifest the parser
// accepts survives a round trip: written again it parses again, and a second writing is
// identical. A volume file, whatever it holds, gets a report, never a crash, and every
// problem it reports says something.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "archive/volume.hpp"
#include "base/bytes.hpp"

namespace {

using namespace tessera;
using namespace tessera::archive;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void FuzzManifest(ByteView data) {
  auto manifest = ParseVolumeManifest(data);
  if (!manifest.ok()) {
    Check(!manifest.status().message().empty());
    return;
  }
  const std::string once = VolumeManifestText(*manifest);
  auto again = ParseVolumeManifest(AsBytes(once));
  Check(again.ok());
  Check(again->messages.size() == manifest->messages.size());
  Check(VolumeManifestText(*again) == once);
}

void FuzzVolumeFile(ByteView data) {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "volume-fuzz-XXXXXX").string();
    Check(::mkdtemp(tmpl.data()) != nullptr);
    return std::filesystem::path(tmpl);
  }();
  const auto path = dir / "tessera-volume-fuzz-001.tar";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  }
  auto report = VerifyVolumes(dir, nullptr, nullptr);
  Check(report.ok());
  Check(report->volumes.size() == 1);
  const VolumeCheck& v = report->volumes[0];
  for (const std::string& p : v.problems) Check(!p.empty());
  // Only a volume whose signature holds is intact (the seed is a real one).
  if (report->ok()) Check(v.manifest.has_value() && v.manifest->messages.size() == v.messages);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  FuzzManifest(input);
  FuzzVolumeFile(input);
  return 0;
}
