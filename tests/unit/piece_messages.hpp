// Messages stored in pieces (object version 2), for the tests of the archive's readers:
// one made with chosen bytes at chosen piece boundaries, and its object damaged.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>

#include "archive/message_store.hpp"
#include "base/files.hpp"

namespace tessera::archive::piece_test {

inline constexpr size_t kPiece = size_t{1} << 20;  // the store's piece size

// A message of `pieces` pieces (the last one partly filled) with `at_boundary` across
// each piece boundary: its first byte the last of the piece before at the first boundary,
// its first two at the second, and so on (e.g. "\r\n.x": "\r" | "\n.x", then
// "\r\n" | ".x"). Lines end in CRLF; the rest is text (no line starts with "From " or '.').
inline std::string MessageAcrossPieces(size_t pieces, const std::string& at_boundary,
                                       const std::string& header = "") {
  std::string raw = header +
                    "From: clerk@ntbt.gov.tw\r\nTo: chief@gov.tw\r\nSubject: 大檔案\r\n"
                    "Message-ID: <pieces@ntbt.gov.tw>\r\nDate: Tue, 02 Jan 2024 09:00:00 +0800\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  for (size_t boundary = 1; boundary < pieces; ++boundary) {
    const size_t at = boundary * kPiece - std::min(boundary, at_boundary.size());
    while (raw.size() + 80 <= at) raw += std::string(78, 'a' + boundary % 26) + "\r\n";
    raw += std::string(at - raw.size(), 'z');
    raw += at_boundary;
  }
  raw += "\r\nlast line\r\n";
  return raw;
}

// Adds `raw` to `store` in pieces (AddStreamed, as the journal does); the message's id.
inline int64_t AddInPieces(MessageStore& store, const std::string& raw) {
  Delivery d;
  d.source = "test";
  d.origin = "unit test";
  d.envelope_from = "clerk@ntbt.gov.tw";
  d.recipients = {"chief@gov.tw"};
  d.received_at = 1700000000;
  auto added = store.AddStreamed(
      [&raw](const std::function<Status(ByteView)>& sink) -> Status {
        for (size_t at = 0; at < raw.size(); at += 300000)
          TESSERA_RETURN_IF_ERROR(sink(AsBytes(std::string_view(raw).substr(at, 300000))));
        return Status::Ok();
      },
      d);
  EXPECT_TRUE(added.ok()) << added.status().ToString();
  return added.ok() ? added->message : 0;
}

// Changes one byte of the last piece of message `id`'s object (near its end), so that the
// pieces before it read well and that one fails: the damage is found only after most of
// the message was handed out. Gives back the object as it was, to put back.
inline Bytes DamageLastPiece(MessageStore& store, const std::filesystem::path& store_dir,
                             int64_t id) {
  auto m = store.Find(id);
  EXPECT_TRUE(m.ok());
  const std::filesystem::path object = store_dir / MessageObjectName(m->sha256);
  auto good = ReadFile(object);
  EXPECT_TRUE(good.ok());
  Bytes damaged = *good;
  damaged[damaged.size() - 20] ^= 0x01;  // inside the last piece's ciphertext or tag
  EXPECT_TRUE(WriteFileAtomic(object, damaged).ok());
  return *good;
}

inline void PutBack(MessageStore& store, const std::filesystem::path& store_dir, int64_t id,
                    const Bytes& object) {
  auto m = store.Find(id);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(WriteFileAtomic(store_dir / MessageObjectName(m->sha256), object).ok());
}

}  // namespace tessera::archive::piece_test
