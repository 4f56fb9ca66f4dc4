// Reed-Solomon k-of-n erasure coding (ISA-L, Cauchy matrix, systematic): data is cut into
// k data shards and n-k parity shards of equal length; any k shards give the data back.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::erasure {

constexpr int kMaxShards = 16;

class ReedSolomon {
 public:
  // 1 <= k <= n <= kMaxShards, else InvalidArgument.
  static Result<ReedSolomon> Create(int k, int n);

  int k() const { return k_; }
  int n() const { return n_; }
  // Length of every shard for `data_size` bytes of data: ceil(data_size / k), at least 1.
  size_t ShardSize(size_t data_size) const;

  // Splits `data` into n shards (the last data shard zero-padded).
  std::vector<Bytes> Encode(ByteView data) const;
  // The same into caller-owned memory: `shards` holds n pointers to ShardSize(data.size())
  // writable bytes each (so shards can be coded straight into their final buffers).
  void EncodeInto(ByteView data, const std::vector<uint8_t*>& shards) const;
  // Computes the n - k parity shards of `len` bytes each from the k data shards already
  // in place (the data, zero-padded), in `shards` by slot.
  void EncodeParity(const std::vector<uint8_t*>& shards, size_t len) const;
  // Shards by slot, as views (nullopt: absent): a caller can decode from shards that sit
  // inside larger buffers (a shard file with its header) without copying them out.
  using ShardViews = std::vector<std::optional<ByteView>>;
  static ShardViews Views(const std::vector<std::optional<Bytes>>& shards);

  // `shards` has n entries; at least k must be present and all present ones ShardSize long.
  // Returns the first `data_size` bytes of the data. InvalidArgument if fewer than k.
  Result<Bytes> Decode(const ShardViews& shards, size_t data_size) const;
  Result<Bytes> Decode(const std::vector<std::optional<Bytes>>& shards, size_t data_size) const {
    return Decode(Views(shards), data_size);
  }
  // Rebuilds the shards at `wanted` indices from at least k present ones.
  Result<std::vector<Bytes>> Reconstruct(const ShardViews& shards,
                                         const std::vector<int>& wanted) const;
  Result<std::vector<Bytes>> Reconstruct(const std::vector<std::optional<Bytes>>& shards,
                                         const std::vector<int>& wanted) const {
    return Reconstruct(Views(shards), wanted);
  }

 private:
  ReedSolomon(int k, int n);
  // Coefficient rows that turn the shards at `sources` (k indices) into those at `targets`.
  Status SolveRows(const std::vector<int>& sources, const std::vector<int>& targets,
                   std::vector<uint8_t>& rows) const;

  int k_, n_;
  std::shared_ptr<const std::vector<uint8_t>> matrix_;  // n x k encode matrix
  // ISA-L expanded tables for the parity rows, built once: copies share them.
  std::shared_ptr<const std::vector<uint8_t>> encode_tables_;
};

}  // namespace tessera::erasure
