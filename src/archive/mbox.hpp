// The mbox format, as mail clients and servers write it: messages one after another, each
// after a "From sender date" line, with lines in the message that could be taken for such
// a line escaped by a '>' (mboxrd; readers of mboxo lose nothing: they unescape ">From ").
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::archive {

// One message of an mbox (mboxrd or mboxo: lines ">From " lose one '>'), with the
// envelope sender and time of its "From " line when they parse.
struct MboxMessage {
  Bytes raw;
  std::string envelope_from;
  int64_t envelope_time = 0;  // 0 when the line gives none
  uint64_t offset = 0;        // of its "From " line in the file
  uint64_t number = 0;        // 1 for the first message
};
// Reads the mbox at `path` one message at a time (an mbox may be larger than memory),
// calling `message` for each; stops at the first error either returns. A file that does
// not start with a "From " line is InvalidArgument.
Status ReadMbox(const std::string& path, const std::function<Status(MboxMessage&)>& message);

// One message as an mbox entry: its "From " line (`sender`, or MAILER-DAEMON when empty;
// `when` in UTC), the message with lines that start with '>'s and "From " given one more
// '>', a line break at its end if it has none, and the blank line that separates entries.
// ReadMbox gives the message back exactly (with that line break).
std::string MboxEntry(ByteView raw, const std::string& sender, int64_t when);

}  // namespace tessera::archive
