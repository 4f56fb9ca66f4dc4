#include "archive/search_index.hpp"

#include <xapian.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <deque>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "archive/attachment_text.hpp"
#include "archive/mime.hpp"
#include "archive/search_terms.hpp"
#include "base/log.hpp"

namespace tessera::archive {
namespace {

using nlohmann::json;

constexpr Xapian::valueno kDateSlot = 0;
constexpr const char* kLastDelivery = "tessera:last-delivery";
constexpr const char* kLastDestroyed = "tessera:last-destroyed";
constexpr const char* kHasAttachment = "KATTACHMENT";
constexpr size_t kCatchUpBatch = 500;  // deliveries per commit
// A message up to this size is read and parsed whole; a larger one is read a piece at a
// time, and its parts larger than this are listed (name, type) but not decoded, so that
// indexing holds a few times this much, whatever the message's size.
constexpr uint64_t kWholeMessageBytes = 16u << 20;
// Positions between fields, so that a phrase never runs from one field into the next.
constexpr uint32_t kFieldGap = 100;

// Term prefixes (Xapian's convention: upper case, X for multi-letter ones).
constexpr const char* kSubject = "S";
constexpr const char* kFrom = "A";
constexpr const char* kTo = "XTO";
constexpr const char* kAttachmentName = "XF";

Status FromXapian(const Xapian::Error& e, const std::string& doing) {
  if (std::string(e.get_type()) == "DatabaseLockError")
    return Status::Unavailable("search index is being updated by another process (" + doing + ")");
  if (std::string(e.get_type()) == "DatabaseCorruptError")
    return Status::Corruption("search index is damaged (" + doing + ": " + e.get_description() +
                              "); remove the index directory and search again to rebuild it");
  return Status::IOError("search index: " + doing + ": " + e.get_description());
}

std::string AddressText(const MailAddress& a) {
  return a.name + " " + a.email;
}

class DocumentBuilder {
 public:
  void Field(std::string_view text, const char* prefix) {
    ForEachTerm(text, &position_, [&](const std::string& term, uint32_t at) {
      doc_.add_posting(term, at);
      if (prefix) doc_.add_posting(prefix + term, at);
    });
    position_ += kFieldGap;
  }
  Xapian::Document& doc() { return doc_; }

 private:
  Xapian::Document doc_;
  uint32_t position_ = 1;
};

void AddMessageText(DocumentBuilder& b, const ParsedMessage& p, json& summary,
                    std::vector<std::string>& problems, const std::string& where, bool top) {
  b.Field(p.subject, top ? kSubject : nullptr);
  for (const auto* list : {&p.from, &p.sender})
    for (const MailAddress& a : *list) b.Field(AddressText(a), top ? kFrom : nullptr);
  for (const auto* list : {&p.to, &p.cc, &p.bcc})
    for (const MailAddress& a : *list) {
      b.Field(AddressText(a), top ? kTo : nullptr);
      if (top) summary["recipients"].push_back(a.email);
    }
  b.Field(p.text, nullptr);
  for (const MailAttachment& a : p.attachments) {
    b.Field(a.filename, kAttachmentName);
    if (!a.filename.empty()) summary["attachments"].push_back(a.filename);
    if (a.content_omitted) {
      problems.push_back(where + ": attachment '" + a.filename + "' (" +
                         std::to_string(a.encoded_size) +
                         " bytes) is too large to have its text indexed; it is found by its name");
      continue;
    }
    Result<std::string> text = AttachmentText(a);
    if (text.ok()) {
      b.Field(*text, nullptr);
    } else {
      problems.push_back(where + ": attachment '" + a.filename + "': " + text.status().message());
    }
  }
  if (!p.attachments.empty()) b.doc().add_boolean_term(kHasAttachment);
  for (const ParsedMessage& inner : p.attached_messages)
    AddMessageText(b, inner, summary, problems, where, false);
}

Xapian::Query FieldQuery(std::string_view value, const char* prefix) {
  std::vector<Xapian::Query> parts;
  for (const TextRun& run : SplitText(value)) {
    std::vector<std::string> terms = QueryTerms(run);
    for (std::string& t : terms) t = prefix + t;
    if (terms.size() == 1)
      parts.emplace_back(terms[0]);
    else
      parts.emplace_back(Xapian::Query::OP_PHRASE, terms.begin(), terms.end(), terms.size());
  }
  // Nothing searchable (only punctuation): matches nothing rather than everything.
  if (parts.empty()) return Xapian::Query();
  return Xapian::Query(Xapian::Query::OP_AND, parts.begin(), parts.end());
}

}  // namespace

Result<int64_t> ParseSearchDate(std::string_view date) {
  int y = 0, m = 0, d = 0;
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(date) +
                                   "' is not a date: write YYYY-MM-DD, e.g. 2024-01-31");
  };
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return bad();
  auto num = [&](size_t at, size_t len, int& out) {
    auto [end, ec] = std::from_chars(date.data() + at, date.data() + at + len, out);
    return ec == std::errc() && end == date.data() + at + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d) || m < 1 || m > 12 || d < 1 || d > 31)
    return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == -1 || tm.tm_mday != d) return bad();
  return static_cast<int64_t>(t);
}

Result<SearchQuery> ParseSearchQuery(std::string_view text) {
  SearchQuery q;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    // A token: field:value or value, where either value may be "quoted".
    std::string field;
    size_t colon_probe = i;
    while (colon_probe < text.size() && std::isalpha(static_cast<unsigned char>(text[colon_probe])))
      ++colon_probe;
    if (colon_probe < text.size() && colon_probe > i && text[colon_probe] == ':') {
      field = std::string(text.substr(i, colon_probe - i));
      for (char& c : field) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      i = colon_probe + 1;
    }
    std::string value;
    if (i < text.size() && text[i] == '"') {
      size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos)
        return Status::InvalidArgument("the quote opened at character " + std::to_string(i + 1) +
                                       " of the query is not closed");
      value = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      size_t end = text.find_first_of(" \t", i);
      if (end == std::string_view::npos) end = text.size();
      value = std::string(text.substr(i, end - i));
      i = end;
    }
    if (field.empty()) {
      if (!value.empty()) q.text.push_back(value);
    } else if (field == "from") {
      q.from.push_back(value);
    } else if (field == "to") {
      q.to.push_back(value);
    } else if (field == "subject") {
      q.subject.push_back(value);
    } else if (field == "attachment") {
      q.attachment.push_back(value);
    } else if (field == "after") {
      TESSERA_ASSIGN_OR_RETURN(int64_t t, ParseSearchDate(value));
      q.after = t;
    } else if (field == "before") {
      TESSERA_ASSIGN_OR_RETURN(int64_t t, ParseSearchDate(value));
      q.before = t;
    } else if (field == "has" && value == "attachment") {
      q.has_attachment = true;
    } else {
      return Status::InvalidArgument("unknown search field '" + field +
                                     ":' (known: from: to: subject: attachment: after: "
                                     "before: has:attachment; quote text that contains a colon)");
    }
  }
  return q;
}

struct SearchIndex::Impl {
  std::unique_ptr<Xapian::Database> reader;          // when opened for reading
  std::unique_ptr<Xapian::WritableDatabase> writer;  // when opened for writing
  Xapian::Database& db() { return writer ? *writer : *reader; }
};

SearchIndex::SearchIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SearchIndex::~SearchIndex() = default;

Result<std::unique_ptr<SearchIndex>> SearchIndex::OpenForWriting(const std::filesystem::path& dir) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->writer =
        std::make_unique<Xapian::WritableDatabase>(dir.string(), Xapian::DB_CREATE_OR_OPEN);
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "opening " + dir.string());
  }
  return std::unique_ptr<SearchIndex>(new SearchIndex(std::move(impl)));
}

Result<std::unique_ptr<SearchIndex>> SearchIndex::OpenForReading(const std::filesystem::path& dir) {
  auto impl = std::make_unique<Impl>();
  try {
    if (std::filesystem::exists(dir / "iamglass"))
      impl->reader = std::make_unique<Xapian::Database>(dir.string());
    else
      // Nothing indexed yet: an empty database that searches find nothing in (a default
      // Database is "uninitialised" and cannot be searched).
      impl->reader =
          std::make_unique<Xapian::WritableDatabase>(std::string(), Xapian::DB_BACKEND_INMEMORY);
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "opening " + dir.string());
  }
  return std::unique_ptr<SearchIndex>(new SearchIndex(std::move(impl)));
}

namespace {

Result<int64_t> ReadCounter(Xapian::Database& db, const char* key) {
  try {
    std::string v = db.get_metadata(key);
    return v.empty() ? int64_t{0} : std::stoll(v);
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "reading its state");
  } catch (const std::exception&) {
    return Status::Corruption(std::string("search index: its ") + key +
                              " is not a number; remove the index directory to rebuild it");
  }
}

}  // namespace

Result<bool> SearchIndex::Behind(MessageStore& store) {
  TESSERA_ASSIGN_OR_RETURN(int64_t last, ReadCounter(impl_->db(), kLastDelivery));
  TESSERA_ASSIGN_OR_RETURN(auto next, store.DeliveriesAfter(last, 1));
  if (!next.empty()) return true;
  TESSERA_ASSIGN_OR_RETURN(int64_t last_destroyed, ReadCounter(impl_->db(), kLastDestroyed));
  TESSERA_ASSIGN_OR_RETURN(auto destroyed, store.DestroyedAfter(last_destroyed));
  return !destroyed.empty();
}

namespace {

// One message's document, built from what the store holds.
struct BuiltDocument {
  Xapian::Document doc;
  std::vector<std::string> problems;
};

BuiltDocument BuildDocument(const StoredMessage& m, const std::vector<StoredDelivery>& deliveries,
                            const Result<ParsedMessage>& parsed) {
  BuiltDocument out;
  DocumentBuilder b;
  json summary = {{"message_id", m.message_id},
                  {"from", m.from},
                  {"subject", m.subject},
                  {"recipients", json::array()},
                  {"attachments", json::array()}};
  const std::string where = "message " + std::to_string(m.id);
  if (parsed.ok()) {
    AddMessageText(b, *parsed, summary, out.problems, where, true);
  } else if (parsed.status().code() != StatusCode::kInvalidArgument) {  // not just empty
    // Indexed from what the records say; `archive verify` names the damage.
    out.problems.push_back(where + ": " + parsed.status().message());
    b.Field(m.subject, kSubject);
    b.Field(m.from, kFrom);
  }
  for (const StoredDelivery& d : deliveries) {
    b.Field(d.delivery.envelope_from, kFrom);
    for (const std::string& r : d.delivery.recipients) {
      b.Field(r, kTo);
      summary["recipients"].push_back(r);
    }
  }
  // Recipients once each, in the order first seen.
  json unique = json::array();
  for (const auto& r : summary["recipients"])
    if (std::find(unique.begin(), unique.end(), r) == unique.end()) unique.push_back(r);
  summary["recipients"] = unique;
  if (m.date) summary["date"] = *m.date;
  const int64_t date = m.date.value_or(m.first_seen);
  b.doc().add_value(kDateSlot, Xapian::sortable_serialise(static_cast<double>(date)));
  b.doc().set_data(summary.dump());
  out.doc = std::move(b.doc());
  return out;
}

}  // namespace

Result<CatchUpReport> SearchIndex::CatchUp(MessageStore& store, Progress* progress) {
  if (!impl_->writer) return Status::FailedPrecondition("the search index was opened for reading");
  Xapian::WritableDatabase& db = *impl_->writer;
  CatchUpReport report;
  // One thread: building documents on two cores measured slower (the allocator's locks,
  // documents freed on another thread than the one that built them).
  try {
    TESSERA_ASSIGN_OR_RETURN(int64_t last, ReadCounter(db, kLastDelivery));
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(std::vector<StoredDelivery> batch,
                               store.DeliveriesAfter(last, kCatchUpBatch));
      if (batch.empty()) break;
      std::set<int64_t> messages;
      for (const StoredDelivery& d : batch) messages.insert(d.message);
      last = batch.back().id;
      for (int64_t id : messages) {
        TESSERA_ASSIGN_OR_RETURN(StoredMessage m, store.Find(id));
        TESSERA_ASSIGN_OR_RETURN(std::vector<StoredDelivery> deliveries, store.Deliveries(id));
        BuiltDocument built = BuildDocument(m, deliveries, store.Parse(m, kWholeMessageBytes));
        for (std::string& problem : built.problems) report.problems.push_back(std::move(problem));
        db.replace_document(static_cast<Xapian::docid>(id), built.doc);
        report.messages++;
        if (progress) {
          progress->Add(1, m.size);
          progress->Tick("message " + std::to_string(id));
        }
      }
      report.deliveries += batch.size();
      db.set_metadata(kLastDelivery, std::to_string(last));
      db.commit();
    }
    TESSERA_ASSIGN_OR_RETURN(int64_t last_destroyed, ReadCounter(db, kLastDestroyed));
    TESSERA_ASSIGN_OR_RETURN(std::vector<DestroyedMessage> destroyed,
                             store.DestroyedAfter(last_destroyed));
    if (!destroyed.empty()) {
      for (const DestroyedMessage& d : destroyed) {
        // Bytes archived anew after the destruction have an id of their own: this one's
        // document is only ever the destroyed message's.
        try {
          db.delete_document(static_cast<Xapian::docid>(d.message));
        } catch (const Xapian::DocNotFoundError&) {
        }
        report.removed++;
      }
      db.set_metadata(kLastDestroyed, std::to_string(destroyed.back().seq));
      db.commit();
    }
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "indexing");
  }
  return report;
}

namespace {

Xapian::Query BuildQuery(const SearchQuery& q) {
  std::vector<Xapian::Query> must;
  for (const std::string& t : q.text) must.push_back(FieldQuery(t, ""));
  for (const std::string& t : q.from) must.push_back(FieldQuery(t, kFrom));
  for (const std::string& t : q.to) must.push_back(FieldQuery(t, kTo));
  for (const std::string& t : q.subject) must.push_back(FieldQuery(t, kSubject));
  for (const std::string& t : q.attachment) must.push_back(FieldQuery(t, kAttachmentName));
  Xapian::Query query = must.empty()
                            ? Xapian::Query::MatchAll
                            : Xapian::Query(Xapian::Query::OP_AND, must.begin(), must.end());
  for (const Xapian::Query& part : must)
    if (part.empty()) query = Xapian::Query();  // a part that can match nothing
  if (q.has_attachment)
    query = Xapian::Query(Xapian::Query::OP_FILTER, query, Xapian::Query(kHasAttachment));
  if (q.after)
    query = Xapian::Query(Xapian::Query::OP_FILTER, query,
                          Xapian::Query(Xapian::Query::OP_VALUE_GE, kDateSlot,
                                        Xapian::sortable_serialise(static_cast<double>(*q.after))));
  if (q.before)
    query = Xapian::Query(
        Xapian::Query::OP_FILTER, query,
        Xapian::Query(Xapian::Query::OP_VALUE_LE, kDateSlot,
                      Xapian::sortable_serialise(static_cast<double>(*q.before - 1))));
  return query;
}

// Keeps the documents of SearchQuery::within.
class WithinDecider : public Xapian::MatchDecider {
 public:
  explicit WithinDecider(const std::vector<int64_t>& ids) : ids_(ids) {}
  bool operator()(const Xapian::Document& doc) const override {
    return std::binary_search(ids_.begin(), ids_.end(), static_cast<int64_t>(doc.get_docid()));
  }

 private:
  const std::vector<int64_t>& ids_;
};

SearchHit HitOf(int64_t message, const Xapian::Document& doc) {
  SearchHit hit;
  hit.message = message;
  json summary = json::parse(doc.get_data(), nullptr, false);
  if (summary.is_object()) {
    hit.message_id = summary.value("message_id", "");
    hit.from = summary.value("from", "");
    hit.subject = summary.value("subject", "");
    if (summary.contains("date") && summary["date"].is_number_integer())
      hit.date = summary["date"].get<int64_t>();
    for (const auto& r : summary.value("recipients", json::array()))
      if (r.is_string()) hit.recipients.push_back(r);
    for (const auto& a : summary.value("attachments", json::array()))
      if (a.is_string()) hit.attachments.push_back(a);
  }
  return hit;
}

}  // namespace

Result<SearchHit> SearchIndex::Summary(int64_t message) {
  try {
    return HitOf(message, impl_->db().get_document(static_cast<Xapian::docid>(message)));
  } catch (const Xapian::DocNotFoundError&) {
    return Status::NotFound("the search index holds no message " + std::to_string(message));
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "reading message " + std::to_string(message));
  }
}

Result<std::vector<int64_t>> SearchIndex::AllMatches(const SearchQuery& q) {
  std::vector<int64_t> ids;
  try {
    Xapian::Database& db = impl_->db();
    Xapian::Enquire enquire(db);
    enquire.set_query(BuildQuery(q));
    enquire.set_docid_order(Xapian::Enquire::ASCENDING);
    enquire.set_weighting_scheme(Xapian::BoolWeight());
    std::optional<WithinDecider> within;
    if (q.within) within.emplace(*q.within);
    Xapian::MSet mset = enquire.get_mset(0, db.get_doccount(), db.get_doccount(), nullptr,
                                         within ? &*within : nullptr);
    for (Xapian::MSetIterator it = mset.begin(); it != mset.end(); ++it)
      ids.push_back(static_cast<int64_t>(*it));
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "searching");
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<SearchResults> SearchIndex::Search(const SearchQuery& q) {
  const Xapian::Query query = BuildQuery(q);
  SearchResults results;
  try {
    Xapian::Database& db = impl_->db();
    Xapian::Enquire enquire(db);
    enquire.set_query(query);
    enquire.set_sort_by_value_then_relevance(kDateSlot, true);
    std::optional<WithinDecider> within;
    if (q.within) within.emplace(*q.within);
    // Counting every match exactly (check_at_least = all) keeps `matches` true under a
    // decider too.
    Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(q.limit),
                                         db.get_doccount(), nullptr, within ? &*within : nullptr);
    results.matches = mset.get_matches_estimated();
    for (Xapian::MSetIterator it = mset.begin(); it != mset.end(); ++it)
      results.hits.push_back(HitOf(static_cast<int64_t>(*it), it.get_document()));
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "searching");
  }
  return results;
}

}  // namespace tessera::archive
