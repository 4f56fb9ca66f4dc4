#include "erasure/reed_solomon.hpp"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>

namespace tessera::erasure {

namespace {

// ISA-L takes the shard length as an int; longer shards are coded in slices.
constexpr size_t kMaxSlice = size_t{1} << 30;

// Applies `tables` (built for `rows` output rows over k inputs) to `len` bytes.
void RunCodec(const uint8_t* tables, int k, int rows, size_t len, std::vector<uint8_t*>& in,
              std::vector<uint8_t*>& out) {
  if (rows == 0 || len == 0) return;
  std::vector<uint8_t*> in_at(in.size()), out_at(out.size());
  for (size_t off = 0; off < len; off += kMaxSlice) {
    size_t slice = std::min(kMaxSlice, len - off);
    for (size_t i = 0; i < in.size(); ++i) in_at[i] = in[i] + off;
    for (size_t i = 0; i < out.size(); ++i) out_at[i] = out[i] + off;
    ec_encode_data(static_cast<int>(slice), k, rows, const_cast<uint8_t*>(tables), in_at.data(),
                   out_at.data());
  }
}

std::string ShardCount(int have, int k, int n) {
  return "need at least " + std::to_string(k) + " of " + std::to_string(n) + " shards, only " +
         std::to_string(have) + " present";
}

}  // namespace

ReedSolomon::ReedSolomon(int k, int n) : k_(k), n_(n) {
  auto matrix = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(n) * k);
  gf_gen_cauchy1_matrix(matrix->data(), n, k);
  auto tables = std::make_shared<std::vector<uint8_t>>(32 * static_cast<size_t>(k) * (n - k));
  if (n > k) ec_init_tables(k, n - k, matrix->data() + static_cast<size_t>(k) * k, tables->data());
  matrix_ = std::move(matrix);
  encode_tables_ = std::move(tables);
}

Result<ReedSolomon> ReedSolomon::Create(int k, int n) {
  if (k < 1 || n < k || n > kMaxShards) {
    return Status::InvalidArgument(
        "erasure: invalid Reed-Solomon parameters k=" + std::to_string(k) +
        " n=" + std::to_string(n) + ": need 1 <= k <= n <= " + std::to_string(kMaxShards));
  }
  return ReedSolomon(k, n);
}

size_t ReedSolomon::ShardSize(size_t data_size) const {
  size_t k = static_cast<size_t>(k_);
  return std::max<size_t>(1, (data_size + k - 1) / k);
}

std::vector<Bytes> ReedSolomon::Encode(ByteView data) const {
  const size_t len = ShardSize(data.size());
  std::vector<Bytes> shards(n_);
  std::vector<uint8_t*> ptrs(n_);
  for (int i = 0; i < n_; ++i) {
    shards[i].resize(len);
    ptrs[i] = shards[i].data();
  }
  EncodeInto(data, ptrs);
  return shards;
}

void ReedSolomon::EncodeInto(ByteView data, const std::vector<uint8_t*>& shards) const {
  const size_t len = ShardSize(data.size());
  for (int i = 0; i < k_; ++i) {
    size_t off = std::min(data.size(), static_cast<size_t>(i) * len);
    size_t count = std::min(len, data.size() - off);
    if (count > 0) std::memcpy(shards[i], data.data() + off, count);
    std::memset(shards[i] + count, 0, len - count);  // zero padding of the last shard
  }
  EncodeParity(shards, len);
}

void ReedSolomon::EncodeParity(const std::vector<uint8_t*>& shards, size_t len) const {
  std::vector<uint8_t*> in(shards.begin(), shards.begin() + k_);
  std::vector<uint8_t*> out(shards.begin() + k_, shards.begin() + n_);
  RunCodec(encode_tables_->data(), k_, n_ - k_, len, in, out);
}

Status ReedSolomon::SolveRows(const std::vector<int>& sources, const std::vector<int>& targets,
                              std::vector<uint8_t>& rows) const {
  const size_t k = static_cast<size_t>(k_);
  const std::vector<uint8_t>& m = *matrix_;
  std::vector<uint8_t> sub(k * k), inv(k * k);
  for (size_t r = 0; r < k; ++r)
    std::memcpy(&sub[r * k], &m[static_cast<size_t>(sources[r]) * k], k);
  if (gf_invert_matrix(sub.data(), inv.data(), k_) != 0) {
    // Cauchy submatrices are always invertible; reaching this is a bug, not bad input.
    return Status::Internal("erasure: decode matrix is singular");
  }
  // inv maps the source shards back to the data shards; a parity target is its encode row
  // applied to those recovered data shards.
  rows.assign(targets.size() * k, 0);
  for (size_t t = 0; t < targets.size(); ++t) {
    uint8_t* row = &rows[t * k];
    size_t w = static_cast<size_t>(targets[t]);
    if (w < k) {
      std::memcpy(row, &inv[w * k], k);
      continue;
    }
    for (size_t j = 0; j < k; ++j) {
      uint8_t acc = 0;
      for (size_t d = 0; d < k; ++d) acc ^= gf_mul(m[w * k + d], inv[d * k + j]);
      row[j] = acc;
    }
  }
  return Status::Ok();
}

ReedSolomon::ShardViews ReedSolomon::Views(const std::vector<std::optional<Bytes>>& shards) {
  ShardViews views(shards.size());
  for (size_t i = 0; i < shards.size(); ++i)
    if (shards[i]) views[i] = ByteView(*shards[i]);
  return views;
}

Result<Bytes> ReedSolomon::Decode(const ShardViews& shards, size_t data_size) const {
  if (shards.size() != static_cast<size_t>(n_)) {
    return Status::InvalidArgument("erasure: expected " + std::to_string(n_) +
                                   " shard slots, got " + std::to_string(shards.size()));
  }
  const size_t len = ShardSize(data_size);
  const size_t k = static_cast<size_t>(k_);
  std::vector<int> sources;
  bool all_data = true;
  for (int i = 0; i < n_; ++i) {
    const std::optional<ByteView>& s = shards[i];
    if (!s) {
      if (i < k_) all_data = false;
      continue;
    }
    if (s->size() != len) {
      return Status::InvalidArgument("erasure: shard " + std::to_string(i) + " is " +
                                     std::to_string(s->size()) + " bytes, expected " +
                                     std::to_string(len) + " for " + std::to_string(data_size) +
                                     " bytes of data");
    }
    if (sources.size() < k) sources.push_back(i);
  }
  int present = 0;
  for (const auto& s : shards) present += s ? 1 : 0;
  if (sources.size() < k) return Status::InvalidArgument("erasure: " + ShardCount(present, k_, n_));

  if (all_data) {
    Bytes out(data_size);
    for (size_t i = 0, off = 0; off < data_size; ++i, off += len)
      std::memcpy(out.data() + off, shards[i]->data(), std::min(len, data_size - off));
    return out;
  }

  // Recover missing data shards straight into their place in the output buffer.
  std::vector<int> missing;
  Bytes out(k * len);
  for (size_t i = 0; i < k; ++i) {
    if (shards[i])
      std::memcpy(out.data() + i * len, shards[i]->data(), len);
    else
      missing.push_back(static_cast<int>(i));
  }
  // Decode tables depend on which shards are missing; building them (a k x k inversion and
  // 32*k bytes per row) costs microseconds against milliseconds of coding, so they are not
  // cached.
  std::vector<uint8_t> rows;
  TESSERA_RETURN_IF_ERROR(SolveRows(sources, missing, rows));
  std::vector<uint8_t> tables(32 * k * missing.size());
  ec_init_tables(k_, static_cast<int>(missing.size()), rows.data(), tables.data());
  std::vector<uint8_t*> in(k), outp(missing.size());
  for (size_t i = 0; i < k; ++i) in[i] = const_cast<uint8_t*>(shards[sources[i]]->data());
  for (size_t t = 0; t < missing.size(); ++t)
    outp[t] = out.data() + static_cast<size_t>(missing[t]) * len;
  RunCodec(tables.data(), k_, static_cast<int>(missing.size()), len, in, outp);
  out.resize(data_size);
  return out;
}

Result<std::vector<Bytes>> ReedSolomon::Reconstruct(const ShardViews& shards,
                                                    const std::vector<int>& wanted) const {
  if (shards.size() != static_cast<size_t>(n_)) {
    return Status::InvalidArgument("erasure: expected " + std::to_string(n_) +
                                   " shard slots, got " + std::to_string(shards.size()));
  }
  for (int w : wanted) {
    if (w < 0 || w >= n_) {
      return Status::InvalidArgument("erasure: shard index " + std::to_string(w) +
                                     " out of range 0.." + std::to_string(n_ - 1));
    }
  }
  const size_t k = static_cast<size_t>(k_);
  std::vector<int> sources;
  size_t len = 0;
  int present = 0;
  for (int i = 0; i < n_; ++i) {
    const std::optional<ByteView>& s = shards[i];
    if (!s) continue;
    ++present;
    if (len == 0) len = s->size();
    if (s->empty() || s->size() != len) {
      return Status::InvalidArgument("erasure: shard " + std::to_string(i) + " is " +
                                     std::to_string(s->size()) +
                                     " bytes; present shards must be non-empty and equally long");
    }
    if (sources.size() < k) sources.push_back(i);
  }
  if (sources.size() < k) return Status::InvalidArgument("erasure: " + ShardCount(present, k_, n_));

  std::vector<Bytes> result(wanted.size());
  std::vector<int> targets;
  std::vector<uint8_t*> outp;
  for (size_t t = 0; t < wanted.size(); ++t) {
    const std::optional<ByteView>& s = shards[wanted[t]];
    if (s) {
      result[t].assign(s->begin(), s->end());
      continue;
    }
    result[t].resize(len);
    targets.push_back(wanted[t]);
    outp.push_back(result[t].data());
  }
  if (targets.empty()) return result;
  std::vector<uint8_t> rows;
  TESSERA_RETURN_IF_ERROR(SolveRows(sources, targets, rows));
  std::vector<uint8_t> tables(32 * k * targets.size());
  ec_init_tables(k_, static_cast<int>(targets.size()), rows.data(), tables.data());
  std::vector<uint8_t*> in(k);
  for (size_t i = 0; i < k; ++i) in[i] = const_cast<uint8_t*>(shards[sources[i]]->data());
  RunCodec(tables.data(), k_, static_cast<int>(targets.size()), len, in, outp);
  return result;
}

}  // namespace tessera::erasure
