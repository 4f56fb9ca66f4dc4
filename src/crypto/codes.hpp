// Printable codes for people to write down (custodians' recovery codes): Crockford
// base32 in groups of four separated by '-', ending in a checksum group, so a typo is
// detected rather than silently producing a wrong key. The checksum (a 20-bit CRC over
// the data characters) always detects one wrong character, two swapped neighbours, or
// any errors within four consecutive characters; other errors with probability
// 1 - 2^-20. Example: 32 bytes encode as 13 groups of data and 1 of checksum.
#pragma once

#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::crypto {

std::string EncodeCode(ByteView payload);
// Accepts upper or lower case, ignores whitespace and '-', maps O->0 and I/L->1.
// InvalidArgument with a clear message on a bad character or checksum.
Result<Bytes> DecodeCode(std::string_view code);

}  // namespace tessera::crypto
