// Full-text search of the archive (Xapian), exact for Chinese: subject, body, sender,
// recipients (Bcc included, from the deliveries), attachment names and the text of
// attachments (search_terms.hpp says how text becomes terms; attachment_text.hpp which
// attachments have text).
//
// The index is derived from the message store and follows it: CatchUp() indexes every
// delivery recorded since the last catch-up, so an index that is lost, damaged or behind
// (a crash between storing and indexing) is rebuilt from the store, never the other way
// round. It lives in <archive>/index; its terms are the messages' words in clear, so it
// is as confidential as the mail: keep the archive directory on an encrypted volume.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/message_store.hpp"
#include "base/progress.hpp"
#include "base/status.hpp"

namespace tessera::archive {

// A search: words and phrases that must all occur, and filters.
//   國稅局            the three characters together, anywhere
//   "郵件 備份"        the words in this order
//   from:鄭  to:chief@gov.tw  subject:公文  attachment:報告.pdf
//   after:2024-01-01  before:2024-12-31   (dates in local time; before is exclusive)
//   has:attachment
struct SearchQuery {
  std::vector<std::string> text;  // each must match (a word, a CJK run, or a quoted phrase)
  std::vector<std::string> from, to, subject, attachment;
  std::optional<int64_t> after, before;  // Unix seconds; after inclusive, before exclusive
  bool has_attachment = false;
  // Only among these messages (sorted ids), when set: a clerk's own mail (access.hpp).
  std::optional<std::vector<int64_t>> within;
  size_t limit = 50;
};

// Parses the query language above; InvalidArgument (saying what is wrong) for a bad date,
// an unknown field, or an unclosed quote.
Result<SearchQuery> ParseSearchQuery(std::string_view text);
// "2024-01-01" (local midnight) to Unix seconds.
Result<int64_t> ParseSearchDate(std::string_view date);

struct SearchHit {
  int64_t message = 0;
  std::optional<int64_t> date;
  std::string message_id, from, subject;
  std::vector<std::string> recipients;   // To, Cc and every envelope recipient
  std::vector<std::string> attachments;  // file names
};

struct SearchResults {
  uint64_t matches = 0;  // all that match (hits holds the newest `limit`)
  std::vector<SearchHit> hits;
};

struct CatchUpReport {
  uint64_t deliveries = 0;  // indexed now
  uint64_t messages = 0;
  uint64_t removed = 0;               // destroyed messages taken out
  std::vector<std::string> problems;  // attachments whose text could not be read, and why
};

class SearchIndex {
 public:
  // For indexing: Unavailable when another process is indexing (one writer at a time).
  static Result<std::unique_ptr<SearchIndex>> OpenForWriting(const std::filesystem::path& dir);
  // For searching; an index that does not exist yet is empty.
  static Result<std::unique_ptr<SearchIndex>> OpenForReading(const std::filesystem::path& dir);
  ~SearchIndex();

  // Indexes what the store recorded since the last catch-up, and removes the messages
  // destroyed since (retention.hpp), committing as it goes.
  Result<CatchUpReport> CatchUp(MessageStore& store, Progress* progress);
  // Whether the store has deliveries or destructions the index has not seen.
  Result<bool> Behind(MessageStore& store);

  // Newest first.
  Result<SearchResults> Search(const SearchQuery& query);
  // Every message that matches (the query's limit does not apply), in id order.
  Result<std::vector<int64_t>> AllMatches(const SearchQuery& query);
  // What the index holds of one message (NotFound when it holds nothing).
  Result<SearchHit> Summary(int64_t message);

 private:
  struct Impl;
  explicit SearchIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::archive
