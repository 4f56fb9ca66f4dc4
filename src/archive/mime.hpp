// Internet mail (RFC 5322 and MIME) parsed into what the archive indexes and shows: the
// headers decoded to UTF-8 (RFC 2047 encoded-words, RFC 2231 parameters, raw 8-bit
// Big5), the text of the body, and the attachments decoded from their transfer encoding.
// Parsing is lenient, as mail is: a malformed message still yields what can be read,
// and `problems` says what was guessed or could not be read. Every string is valid UTF-8
// (bytes that cannot be decoded become U+FFFD); attachment contents are bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::archive {

struct MailAddress {
  std::string name;   // display name, UTF-8; may be empty
  std::string email;  // addr-spec as written
};

// The address of "Name <a@b>" or "a@b", in lower case (as addresses are compared).
std::string AddressKey(const std::string& address);

struct ParsedMessage;

struct MailAttachment {
  std::string filename;      // UTF-8; empty when the part names none
  std::string content_type;  // lower case, e.g. "application/pdf"
  Bytes content;             // transfer encoding undone
  // Set when the part was larger than the parse's limit (ParseMessage from a
  // MessageSource): `content` is then left empty.
  bool content_omitted = false;
  uint64_t encoded_size = 0;  // the part's size as sent (set with content_omitted)
};

struct ParsedMessage {
  std::string message_id;  // without angle brackets; empty when absent
  std::string subject;
  std::vector<MailAddress> from, sender, to, cc, bcc, reply_to;
  std::optional<int64_t> date;  // Unix seconds of the Date header, when it parses
  std::string text;             // every text part in order (HTML parts as text), UTF-8
  std::string html;             // the first text/html part, UTF-8, as sent (unsanitised)
  std::vector<MailAttachment> attachments;
  std::vector<ParsedMessage> attached_messages;  // message/rfc822 parts, parsed
  std::vector<std::string> problems;             // what was guessed or unreadable
};

// The message's text parts without its HTML part's source, which `text` holds as sent (for
// the search index) and which a reader should see rendered (html_sanitizer's HtmlAsText, or
// the console's sanitised view) rather than as markup.
std::string TextWithoutHtml(const ParsedMessage& m);

// InvalidArgument for empty input; anything else parses (input without a header as
// plain text, with a problem noted). Thread-safe.
Result<ParsedMessage> ParseMessage(ByteView raw);

// A message's bytes, read at any position: for messages too large to hold in memory.
class MessageSource {
 public:
  virtual ~MessageSource() = default;
  virtual uint64_t size() const = 0;
  // Up to `n` bytes from `position` (fewer only at the end); an error when the bytes
  // cannot be read or are not what was stored.
  virtual Result<size_t> ReadAt(uint64_t position, uint8_t* out, size_t n) = 0;
};

// The same, reading the message through `source` and holding only what it returns: parts
// whose encoded size is above `max_part_bytes` are not decoded (an attachment is listed
// with content_omitted; a text part's text is left out, with a problem noted). Memory is
// bounded by `max_part_bytes` and the message's structure, not its size. Fails only when
// `source` does. Not thread-safe for one source.
Result<ParsedMessage> ParseMessage(std::shared_ptr<MessageSource> source, uint64_t max_part_bytes);

}  // namespace tessera::archive
