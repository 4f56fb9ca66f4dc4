// Throughput of the primitives on a backup's hot path: chunk MACs and chunk encryption.
#include <benchmark/benchmark.h>

#include "crypto/aead.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"

namespace tessera::crypto {
namespace {

void BM_HmacKeyMac(benchmark::State& state) {
  HmacKey key(RandomBytes(32));
  Bytes data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(key.Mac(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacKeyMac)->Arg(64)->Arg(4 << 10)->Arg(1 << 20)->ThreadRange(1, 4);

void BM_Sha256(benchmark::State& state) {
  Bytes data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Sha256(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(64)->Arg(1 << 20);

void BM_AeadSeal(benchmark::State& state) {
  Bytes key = RandomBytes(kAeadKeySize);
  Bytes data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto sealed = AeadSeal(key, data, {});
    benchmark::DoNotOptimize(sealed);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_AeadSeal)->Arg(64)->Arg(1 << 20);

void BM_AeadOpen(benchmark::State& state) {
  Bytes key = RandomBytes(kAeadKeySize);
  auto sealed = AeadSeal(key, RandomBytes(static_cast<size_t>(state.range(0))), {});
  if (!sealed.ok()) {
    state.SkipWithError(sealed.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    auto opened = AeadOpen(key, *sealed, {});
    benchmark::DoNotOptimize(opened);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_AeadOpen)->Arg(1 << 20);

}  // namespace
}  // namespace tessera::crypto

// bench/CMakeLists.txt links benchmark::benchmark, not benchmark_main.
BENCHMARK_MAIN();
