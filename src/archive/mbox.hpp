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

// The same entry made from the message a piece at a time, for messages larger than
// memory: `out` receives the entry's bytes in order, in pieces of at most about 1 MiB.
// Escaping does not depend on where the message is cut into pieces.
class MboxEntryWriter {
 public:
  using Output = std::function<Status(std::string_view)>;
  MboxEntryWriter(const std::string& sender, int64_t when, Output out);
  // The next bytes of the message.
  Status Write(ByteView piece);
  // The end of the message: the line break it may lack and the blank line after it.
  Status Finish();

 private:
  Status Put(std::string_view bytes);
  Status PutQuotes(uint64_t n);
  Status Flush();
  Status ResolveLineStart(bool is_from);

  Output out_;
  std::string buffer_;
  bool line_start_ = true;  // no byte of the current line decided yet
  uint64_t quotes_ = 0;     // '>'s at the start of the line, held back
  size_t matched_ = 0;      // of "From " after them, held back
  char last_ = '\n';        // the last byte of the message written ('\n': none yet)
  bool empty_ = true;
};

}  // namespace tessera::archive
