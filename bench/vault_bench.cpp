// Micro-benchmarks of the vault's hot path, stage by stage: chunking, compression and
// the object layer (seal + Reed-Solomon + shard MACs). The side-by-side run against
// restic and borg is bench/vault-bench.sh.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "base/memory.hpp"
#include "base/thread_pool.hpp"
#include "vault/chunker.hpp"
#include "vault/compression.hpp"
#include "vault/keys.hpp"
#include "vault/sharded_store.hpp"

namespace tessera::vault {
namespace {

Bytes RandomData(size_t n) {
  std::mt19937_64 rng(42);
  Bytes b(n);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(b.data() + i, &v, 8);
  }
  return b;
}

Bytes TextData(size_t n) {
  static const char* kWords[] = {"公文 ", "backup ", "2026-11-23 ", "INFO ", "vault ", "國稅局 "};
  std::mt19937 rng(7);
  std::string s;
  while (s.size() < n) s += kWords[rng() % 6];
  s.resize(n);
  return ToBytes(s);
}

const VaultKeys& Keys() {
  static SecretBytes master(Bytes(32, 7));
  static VaultKeys keys(master);
  return keys;
}

void BM_Chunker(benchmark::State& state) {
  Bytes data = RandomData(64 << 20);
  Chunker chunker(Keys().gear(), ChunkerParams{});
  for (auto _ : state) {
    size_t pos = 0, chunks = 0;
    while (pos < data.size()) {
      pos += chunker.Cut(data.data() + pos, data.size() - pos);
      ++chunks;
    }
    benchmark::DoNotOptimize(chunks);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Chunker)->Unit(benchmark::kMillisecond);

void BM_CompressText(benchmark::State& state) {
  Bytes data = TextData(1 << 20);
  for (auto _ : state) benchmark::DoNotOptimize(CompressIfWorthwhile(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_CompressText);

void BM_CompressRandomIsSkipped(benchmark::State& state) {
  Bytes data = RandomData(1 << 20);
  for (auto _ : state) benchmark::DoNotOptimize(CompressIfWorthwhile(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_CompressRandomIsSkipped);

void BM_EncodeShardFiles(benchmark::State& state) {
  Bytes data = RandomData(8 << 20);
  ThreadPool io(1);
  ShardedStore objects(Bytes(16, 1), 3, 5, 4, std::vector<std::shared_ptr<store::ObjectStore>>(5),
                       Keys(), io);
  for (auto _ : state) benchmark::DoNotOptimize(objects.EncodeShardFiles("data/x", data, false));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_EncodeShardFiles)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::vault

int main(int argc, char** argv) {
  tessera::TuneAllocatorForLargeBuffers();  // as the tessera program does
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
