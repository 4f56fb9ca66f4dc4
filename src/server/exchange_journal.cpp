#include "server/exchange_journal.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>

#include "archive/journal.hpp"
#include "archive/message_store.hpp"
#include "archive/search_index.hpp"
#include "archive/smtp_client.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "crypto/random.hpp"
#include "exchange/document.hpp"
#include "exchange/document_render.hpp"

namespace tessera::server {
namespace fs = std::filesystem;
namespace {

std::string Address(const std::string& code) {
  return "<" + code + "@exchange.invalid>";
}

// Base64 in lines of 76 characters, as RFC 2045 asks.
std::string Base64Lines(ByteView data) {
  const std::string flat = Base64Encode(data);
  std::string out;
  for (size_t i = 0; i < flat.size(); i += 76) out += flat.substr(i, 76) + "\r\n";
  return out;
}

// The same for a file, handed to `sink` a piece at a time: 57 bytes make one line of 76
// characters, so pieces of whole lines join into exactly what Base64Lines makes.
Status Base64FileLines(const fs::path& path, const std::function<Status(ByteView)>& sink) {
  constexpr size_t kLine = 57, kPiece = kLine * 4096;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::vector<char> buffer(kPiece);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    const std::string lines =
        Base64Lines(ByteView(reinterpret_cast<const uint8_t*>(buffer.data()), n));
    TESSERA_RETURN_IF_ERROR(sink(AsBytes(lines)));
  }
  if (in.bad()) return Status::IOError("cannot read " + path.string());
  return Status::Ok();
}

// Indexes what the archive stored since the last indexing, when the index is free: a
// running `tessera serve` holds it and indexes within seconds. What it says is logged at
// info, so that a command's output (e.g. `exchange send --json`) stays what it was.
void UpdateIndex(const fs::path& home, archive::MessageStore& store) {
  auto index = archive::SearchIndex::OpenForWriting(home / "archive" / "index");
  if (!index.ok()) {
    if (index.status().code() != StatusCode::kUnavailable)
      spdlog::info("search index: {} (the document is archived; indexing is tried again later)",
                   index.status().ToString());
    return;
  }
  Result<archive::CatchUpReport> r = (*index)->CatchUp(store, nullptr);
  if (!r.ok()) {
    spdlog::info("search index: {} (the document is archived; indexing is tried again later)",
                 r.status().ToString());
    return;
  }
  for (const std::string& p : r->problems) spdlog::info("search index: {}", p);
}

}  // namespace

Status JournalExchangeDocument(const fs::path& home, const exchange::DocumentEvent& event) {
  TESSERA_ASSIGN_OR_RETURN(Bytes di, ReadFile(event.files / event.document));
  TESSERA_ASSIGN_OR_RETURN(exchange::OfficialDocument doc,
                           exchange::ParseDocument(di, event.document));
  std::string text = exchange::RenderText(doc);
  std::string fields;
  for (const exchange::ArchiveField& f : exchange::ArchiveFields(doc))
    fields += f.name + "：" + f.value + "\r\n";

  const std::string boundary = "tessera-" + HexEncode(crypto::RandomBytes(12));
  std::string m;
  m += "From: " + archive::EncodedWord(doc.sender.name) + " " + Address(event.sender) + "\r\n";
  std::string to;
  for (const std::string& r : event.recipients) to += (to.empty() ? "" : ", ") + Address(r);
  m += "To: " + to + "\r\n";
  m += "Subject: " + archive::EncodedWord(doc.subject) + "\r\n";
  m += "Date: " + archive::Rfc5322Date(std::time(nullptr)) + "\r\n";
  m += "Message-ID: <" + event.id + "." + event.sender + "@exchange.invalid>\r\n";
  m += "X-Tessera-Exchange: " + event.direction + "\r\n";
  m += "X-Tessera-Document-Id: " + event.id + "\r\n";
  m += "X-Tessera-Document-Number: " + archive::EncodedWord(doc.number) + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary +
       "\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += Base64Lines(AsBytes(fields + "\r\n" + text));
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(event.files, ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  // The files (a document's attachments may be hundreds of megabytes) are read as the
  // message is written out, never held: the archive takes it a piece at a time.
  auto write = [&](const std::function<Status(ByteView)>& sink) -> Status {
    TESSERA_RETURN_IF_ERROR(sink(AsBytes(m)));
    for (const fs::path& f : files) {
      const std::string name = archive::EncodedWord(f.filename().string());
      TESSERA_RETURN_IF_ERROR(
          sink(AsBytes("--" + boundary + "\r\nContent-Type: application/octet-stream; name=\"" +
                       name + "\"\r\nContent-Disposition: attachment; filename=\"" + name +
                       "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")));
      TESSERA_RETURN_IF_ERROR(Base64FileLines(f, sink));
    }
    return sink(AsBytes("--" + boundary + "--\r\n"));
  };

  TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(home / "archive"));
  archive::MailEnvelope envelope{"exchange-gateway", event.sender + "@exchange.invalid", {}};
  for (const std::string& r : event.recipients)
    envelope.recipients.push_back(r + "@exchange.invalid");
  TESSERA_RETURN_IF_ERROR(
      archive::ArchiveJournaledStreamed(*store, envelope, archive::MailProtocol::kLmtp,
                                        "exchange gateway", write, archive::JournalOptions{""}));
  UpdateIndex(home, *store);
  return Status::Ok();
}

}  // namespace tessera::server
