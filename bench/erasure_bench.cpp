// Reed-Solomon throughput on the backup hot path: RS(3,5) over 4 MiB objects.
#include <benchmark/benchmark.h>

#include <optional>
#include <random>

#include "erasure/reed_solomon.hpp"

namespace {

using tessera::Bytes;
using tessera::erasure::ReedSolomon;

constexpr size_t kSize = 4 << 20;

Bytes RandomData() {
  std::mt19937_64 rng(42);
  Bytes b(kSize);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

void BM_Encode_3_5(benchmark::State& state) {
  auto rs = ReedSolomon::Create(3, 5).value();
  Bytes data = RandomData();
  for (auto _ : state) {
    auto shards = rs.Encode(data);
    benchmark::DoNotOptimize(shards.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSize));
}
BENCHMARK(BM_Encode_3_5);

// `lost` is a bit mask of missing shards: 0 takes the concatenation fast path, 0b11 loses
// two data shards (the worst case for RS(3,5)).
void BM_Decode_3_5(benchmark::State& state) {
  auto rs = ReedSolomon::Create(3, 5).value();
  Bytes data = RandomData();
  auto all = rs.Encode(data);
  auto lost = static_cast<uint32_t>(state.range(0));
  std::vector<std::optional<Bytes>> shards(5);
  int kept = 0;
  for (int i = 0; i < 5 && kept < 3; ++i) {
    if (lost & (1u << i)) continue;
    shards[i] = all[i];
    ++kept;
  }
  for (auto _ : state) {
    auto out = rs.Decode(shards, data.size());
    if (!out.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSize));
}
BENCHMARK(BM_Decode_3_5)->Arg(0)->Arg(0b1)->Arg(0b11);

void BM_Reconstruct_3_5_TwoParity(benchmark::State& state) {
  auto rs = ReedSolomon::Create(3, 5).value();
  auto all = rs.Encode(RandomData());
  std::vector<std::optional<Bytes>> shards(5);
  for (int i = 0; i < 3; ++i) shards[i] = all[i];
  for (auto _ : state) {
    auto out = rs.Reconstruct(shards, {3, 4});
    benchmark::DoNotOptimize(out->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSize));
}
BENCHMARK(BM_Reconstruct_3_5_TwoParity);

}  // namespace

BENCHMARK_MAIN();
