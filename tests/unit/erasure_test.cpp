#include "erasure/reed_solomon.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <numeric>
#include <random>

namespace tessera::erasure {
namespace {

Bytes RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(size);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

using Shards = std::vector<std::optional<Bytes>>;

// Keeps only the shards whose bit is set in `mask`.
Shards Keep(const std::vector<Bytes>& all, uint32_t mask) {
  Shards s(all.size());
  for (size_t i = 0; i < all.size(); ++i)
    if (mask & (1u << i)) s[i] = all[i];
  return s;
}

std::vector<uint32_t> MasksWithBits(int n, int bits) {
  std::vector<uint32_t> out;
  for (uint32_t m = 0; m < (1u << n); ++m)
    if (std::popcount(m) == bits) out.push_back(m);
  return out;
}

TEST(ReedSolomon, CreateRejectsBadParameters) {
  EXPECT_EQ(ReedSolomon::Create(0, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReedSolomon::Create(4, 3).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReedSolomon::Create(2, kMaxShards + 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReedSolomon::Create(-1, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ReedSolomon::Create(1, 1).ok());
  EXPECT_TRUE(ReedSolomon::Create(kMaxShards, kMaxShards).ok());
  EXPECT_TRUE(ReedSolomon::Create(1, kMaxShards).ok());
}

TEST(ReedSolomon, ShardSize) {
  auto rs = ReedSolomon::Create(3, 5).value();
  EXPECT_EQ(rs.ShardSize(0), 1u);
  EXPECT_EQ(rs.ShardSize(1), 1u);
  EXPECT_EQ(rs.ShardSize(3), 1u);
  EXPECT_EQ(rs.ShardSize(4), 2u);
  EXPECT_EQ(rs.ShardSize(3000), 1000u);
}

TEST(ReedSolomon, EncodeIsSystematic) {
  auto rs = ReedSolomon::Create(3, 5).value();
  Bytes data = RandomBytes(10, 1);
  auto shards = rs.Encode(data);
  ASSERT_EQ(shards.size(), 5u);
  for (const auto& s : shards) EXPECT_EQ(s.size(), 4u);
  Bytes joined;
  for (int i = 0; i < 3; ++i) joined.insert(joined.end(), shards[i].begin(), shards[i].end());
  EXPECT_EQ(Bytes(joined.begin(), joined.begin() + 10), data);
  EXPECT_EQ(joined[10], 0);  // zero padding
  EXPECT_EQ(joined[11], 0);
}

TEST(ReedSolomon, ParityFromDataInPlaceEqualsEncode) {
  for (auto [k, n] : {std::pair{1, 1}, std::pair{3, 5}, std::pair{4, 9}, std::pair{10, 16}}) {
    auto rs = ReedSolomon::Create(k, n).value();
    for (size_t size : {size_t{1}, size_t{1000}, size_t{65537}}) {
      SCOPED_TRACE(std::to_string(k) + "-of-" + std::to_string(n) + " " + std::to_string(size));
      Bytes data = RandomBytes(size, 7);
      auto expected = rs.Encode(data);
      const size_t len = rs.ShardSize(size);
      std::vector<Bytes> shards(static_cast<size_t>(n), Bytes(len, 0xee));
      std::vector<uint8_t*> ptrs;
      for (int i = 0; i < n; ++i) {
        if (i < k) shards[i] = expected[i];  // the data shards as a caller placed them
        ptrs.push_back(shards[i].data());
      }
      rs.EncodeParity(ptrs, len);
      EXPECT_EQ(shards, expected);
    }
  }
}

// Every (k, n) with n <= 8, every k-subset of shards, several sizes around the shard edges.
TEST(ReedSolomon, EverySubsetDecodesSmallCodes) {
  for (int n = 1; n <= 8; ++n) {
    for (int k = 1; k <= n; ++k) {
      auto rs = ReedSolomon::Create(k, n).value();
      for (size_t size : {size_t{0}, size_t{1}, size_t(k - 1), size_t(k + 1), size_t{1000}}) {
        Bytes data = RandomBytes(size, size * 131 + k * 17 + n);
        auto all = rs.Encode(data);
        ASSERT_EQ(all.size(), size_t(n));
        for (uint32_t mask : MasksWithBits(n, k)) {
          auto got = rs.Decode(Keep(all, mask), size);
          ASSERT_TRUE(got.ok()) << got.status().ToString();
          ASSERT_EQ(*got, data) << "k=" << k << " n=" << n << " size=" << size << " mask=" << mask;
        }
      }
    }
  }
}

TEST(ReedSolomon, RandomSubsetsDecodeLargeCodes) {
  std::mt19937 rng(7);
  for (int n = 9; n <= kMaxShards; ++n) {
    for (int k = 1; k <= n; ++k) {
      auto rs = ReedSolomon::Create(k, n).value();
      size_t size = 777 + static_cast<size_t>(k) * 3;
      Bytes data = RandomBytes(size, static_cast<uint64_t>(n * 100 + k));
      auto all = rs.Encode(data);
      std::vector<int> idx(n);
      std::iota(idx.begin(), idx.end(), 0);
      for (int trial = 0; trial < 20; ++trial) {
        std::shuffle(idx.begin(), idx.end(), rng);
        uint32_t mask = 0;
        for (int i = 0; i < k; ++i) mask |= 1u << idx[i];
        auto got = rs.Decode(Keep(all, mask), size);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        ASSERT_EQ(*got, data) << "k=" << k << " n=" << n << " mask=" << mask;
      }
    }
  }
}

TEST(ReedSolomon, MoreThanKShardsAlsoDecode) {
  auto rs = ReedSolomon::Create(4, 7).value();
  Bytes data = RandomBytes(4097, 3);
  auto all = rs.Encode(data);
  for (int bits = 4; bits <= 7; ++bits) {
    for (uint32_t mask : MasksWithBits(7, bits)) {
      auto got = rs.Decode(Keep(all, mask), data.size());
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(*got, data);
    }
  }
}

TEST(ReedSolomon, Large4MiB) {
  auto rs = ReedSolomon::Create(3, 5).value();
  Bytes data = RandomBytes(4 << 20, 11);
  auto all = rs.Encode(data);
  for (uint32_t mask : MasksWithBits(5, 3)) {
    auto got = rs.Decode(Keep(all, mask), data.size());
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(*got == data) << "mask=" << mask;
  }
}

TEST(ReedSolomon, TooFewShards) {
  auto rs = ReedSolomon::Create(3, 5).value();
  Bytes data = RandomBytes(100, 5);
  auto all = rs.Encode(data);
  for (uint32_t mask : MasksWithBits(5, 2)) {
    auto got = rs.Decode(Keep(all, mask), data.size());
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    auto rec = rs.Reconstruct(Keep(all, mask), {0});
    EXPECT_EQ(rec.status().code(), StatusCode::kInvalidArgument);
  }
  auto none = rs.Decode(Shards(5), data.size());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("at least 3 of 5"), std::string::npos)
      << none.status().message();
}

TEST(ReedSolomon, WrongShardLength) {
  auto rs = ReedSolomon::Create(3, 5).value();
  Bytes data = RandomBytes(100, 5);
  auto all = rs.Encode(data);
  Shards s = Keep(all, 0b11111);
  s[4]->push_back(0);
  EXPECT_EQ(rs.Decode(s, data.size()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rs.Reconstruct(s, {1}).status().code(), StatusCode::kInvalidArgument);
  // A data size that does not match the shard length.
  EXPECT_EQ(rs.Decode(Keep(all, 0b111), 1000).status().code(), StatusCode::kInvalidArgument);
  // Wrong number of slots.
  Shards four(all.begin(), all.begin() + 4);
  EXPECT_EQ(rs.Decode(four, data.size()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rs.Reconstruct(Keep(all, 0b111), {5}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rs.Reconstruct(Keep(all, 0b111), {-1}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ReedSolomon, ReconstructEqualsEncode) {
  for (int n = 1; n <= 8; ++n) {
    for (int k = 1; k <= n; ++k) {
      auto rs = ReedSolomon::Create(k, n).value();
      Bytes data = RandomBytes(333, static_cast<uint64_t>(k * 10 + n));
      auto all = rs.Encode(data);
      std::vector<int> every(n);
      std::iota(every.begin(), every.end(), 0);
      for (uint32_t mask : MasksWithBits(n, k)) {
        auto got = rs.Reconstruct(Keep(all, mask), every);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        ASSERT_EQ(*got, all) << "k=" << k << " n=" << n << " mask=" << mask;
      }
    }
  }
}

TEST(ReedSolomon, ReconstructSelectedShardsInRequestedOrder) {
  auto rs = ReedSolomon::Create(5, 12).value();
  Bytes data = RandomBytes(100000, 9);
  auto all = rs.Encode(data);
  Shards s = Keep(all, 0b101010101010);  // 1,3,5,7,9,11 present
  auto got = rs.Reconstruct(s, {10, 0, 4, 4, 3});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 5u);
  EXPECT_EQ((*got)[0], all[10]);
  EXPECT_EQ((*got)[1], all[0]);
  EXPECT_EQ((*got)[2], all[4]);
  EXPECT_EQ((*got)[3], all[4]);
  EXPECT_EQ((*got)[4], all[3]);
  auto empty = rs.Reconstruct(s, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(ReedSolomon, CopiesShareTablesAndWork) {
  auto a = ReedSolomon::Create(4, 6).value();
  ReedSolomon b = a;
  Bytes data = RandomBytes(1234, 2);
  EXPECT_EQ(a.Encode(data), b.Encode(data));
}

}  // namespace
}  // namespace tessera::erasure
