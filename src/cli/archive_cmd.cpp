// `tessera archive ...`: the mail archive (郵件歸檔) — import, show, export, restore, verify
// (search: archive_search_cmd.cpp).
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "archive/export.hpp"
#include "archive/html_sanitizer.hpp"
#include "archive/importer.hpp"
#include "archive/message_store.hpp"
#include "archive/redeliver.hpp"
#include "archive/search_index.hpp"
#include "base/clock.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

// `archive show` parses a message up to this size whole; a larger one a piece at a time,
// its parts larger than this listed but not decoded (memory stays bounded).
constexpr uint64_t kShowWholeBytes = 16u << 20;

std::string ArchiveDir(const Context& ctx) {
  return ctx.home + "/archive";
}

std::string Time(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000);
}

std::string AddressList(const std::vector<archive::MailAddress>& list) {
  std::string out;
  for (const auto& a : list)
    out += (out.empty() ? "" : ", ") + (a.name.empty() ? a.email : a.name + " <" + a.email + ">");
  return out;
}

json AddressesJson(const std::vector<archive::MailAddress>& list) {
  json arr = json::array();
  for (const auto& a : list) arr.push_back({{"name", a.name}, {"email", a.email}});
  return arr;
}

std::string IdList(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

json IssuesJson(const std::vector<archive::ImportIssue>& issues) {
  json arr = json::array();
  for (const auto& i : issues) arr.push_back({{"origin", i.origin}, {"reason", i.reason}});
  return arr;
}

}  // namespace

void AddArchiveCommands(CLI::App& app, Context& ctx) {
  auto* archive = app.add_subcommand("archive", "Mail and document archive (郵件歸檔)");
  AddArchiveSearchCommand(*archive, ctx);
  AddArchiveVolumeCommands(*archive, ctx);
  AddArchiveAuditCommand(*archive, ctx);
  AddArchiveRetentionCommands(*archive, ctx);
  AddArchiveBackupCommands(*archive, ctx);
  AddArchiveUsersCommands(*archive, ctx);
  archive->require_subcommand(1);

  // import
  {
    auto* cmd = archive->add_subcommand(
        "import", "Archive existing mail: mbox files, Maildir folders, .eml files or directories");
    auto paths = std::make_shared<std::vector<std::string>>();
    cmd->add_option("paths", *paths, "Files or directories to import")->required();
    cmd->callback([&ctx, paths] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ArchiveDir(ctx)));
        std::string from_paths;
        for (const auto& p : *paths) from_paths += (from_paths.empty() ? "" : " ") + p;
        TESSERA_RETURN_IF_ERROR(
            Authorize(ctx, *store, archive::Permission::kImportMail, "archive.import", from_paths)
                .status());
        // Indexing follows the import on a second core, through its own connection to
        // the store, catching up with each group the import commits. Both threads allocate
        // all the time: each gets its own malloc arena (start-up sets one, for the vault).
        ::mallopt(M_ARENA_MAX, 2);
        std::atomic<bool> importing{true};
        std::atomic<uint64_t> followed{0};
        std::thread indexer([&ctx, &importing, &followed] {
          auto reader = archive::MessageStore::Open(ArchiveDir(ctx));
          if (!reader.ok()) return;
          auto index = archive::SearchIndex::OpenForWriting(ArchiveDir(ctx) + "/index");
          if (!index.ok()) return;  // `tessera serve` keeps it; the final update says so
          while (importing.load()) {
            auto r = (*index)->CatchUp(**reader, nullptr);
            if (!r.ok()) return;
            followed += r->messages;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
          }
        });
        Progress progress("importing", !ctx.json && ::isatty(2));
        Result<archive::ImportReport> imported = archive::Import(*store, *paths, &progress);
        importing = false;
        indexer.join();
        TESSERA_RETURN_IF_ERROR(imported.status());
        archive::ImportReport& r = *imported;
        progress.Finish();
        const std::string indexed = UpdateSearchIndex(ctx, *store, followed.load());
        // Recorded after the fact (an import adds mail, it reveals none): a failure to
        // record it is reported, and the import stands.
        if (Status st = Audit(ctx, "archive.import", from_paths,
                              std::to_string(r.imported) + " imported, " +
                                  std::to_string(r.rejected.size()) + " rejected");
            !st.ok())
          std::fprintf(stderr, "warning: %s\n", st.message().c_str());
        if (!r.rejected.empty()) ctx.exit_code = kExitProblems;
        if (ctx.json) {
          PrintJson({{"files", r.files},
                     {"files_skipped", r.files_skipped},
                     {"messages", r.messages},
                     {"imported", r.imported},
                     {"duplicates", r.duplicates},
                     {"bytes", r.bytes},
                     {"rejected", IssuesJson(r.rejected)},
                     {"problems", IssuesJson(r.problems)},
                     {"archived_messages", store->MessageCount()},
                     {"search_index", indexed}});
          return Status::Ok();
        }
        std::printf(
            "imported %llu messages (%s) from %llu files; %llu duplicates (archived before)",
            static_cast<unsigned long long>(r.imported), HumanBytes(r.bytes).c_str(),
            static_cast<unsigned long long>(r.files),
            static_cast<unsigned long long>(r.duplicates));
        if (r.files_skipped)
          std::printf("; %llu files skipped (imported before, unchanged)",
                      static_cast<unsigned long long>(r.files_skipped));
        std::printf("\n");
        if (!r.problems.empty()) {
          std::printf("%zu archived as received, with problems:\n", r.problems.size());
          for (const auto& p : r.problems)
            std::printf("  %s: %s\n", p.origin.c_str(), p.reason.c_str());
        }
        if (!r.rejected.empty()) {
          std::printf("%zu rejected (not archived):\n", r.rejected.size());
          for (const auto& p : r.rejected)
            std::printf("  %s: %s\n", p.origin.c_str(), p.reason.c_str());
        }
        std::printf("the archive holds %llu messages\n%s\n",
                    static_cast<unsigned long long>(store->MessageCount()), indexed.c_str());
        return Status::Ok();
      });
    });
  }

  // show
  {
    auto* cmd =
        archive->add_subcommand("show", "Show an archived message: headers, text, attachments");
    auto id = std::make_shared<int64_t>(0);
    auto raw = std::make_shared<bool>(false);
    cmd->add_option("id", *id, "Message id (as import, search and list print it)")->required();
    cmd->add_flag("--raw", *raw, "Write the message exactly as received to standard output");
    cmd->callback([&ctx, id, raw] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ArchiveDir(ctx)));
        const char* action = *raw ? "archive.show-raw" : "archive.show";
        TESSERA_ASSIGN_OR_RETURN(
            archive::Principal who,
            Authorize(ctx, *store, archive::Permission::kReadOwnMail, action, std::to_string(*id)));
        TESSERA_RETURN_IF_ERROR(AuthorizeMessages(ctx, *store, who, {*id}, action));
        TESSERA_ASSIGN_OR_RETURN(archive::StoredMessage m, store->Find(*id));
        // The message is read a piece at a time, whatever its size; a damaged one is
        // reported before any of it is shown (standard output cannot be taken back).
        TESSERA_RETURN_IF_ERROR(store->Check(*id));
        // Nothing is shown that the audit log did not record first.
        TESSERA_RETURN_IF_ERROR(Audit(ctx, action, std::to_string(*id), "shown"));
        if (*raw) {
          return store->ReadRaw(*id, [](ByteView piece) {
            if (std::fwrite(piece.data(), 1, piece.size(), stdout) != piece.size())
              return Status::IOError("cannot write to standard output");
            return Status::Ok();
          });
        }
        TESSERA_ASSIGN_OR_RETURN(auto deliveries, store->Deliveries(*id));
        auto parsed = store->Parse(m, kShowWholeBytes);
        if (!parsed.ok() && parsed.status().code() != StatusCode::kInvalidArgument)
          return parsed.status();  // not just empty
        archive::ParsedMessage p = parsed.ok() ? std::move(*parsed) : archive::ParsedMessage{};
        // The text as a reader sees it: the HTML part's markup is not text; a message that is
        // HTML only is shown as the HTML reads.
        std::string text = archive::TextWithoutHtml(p);
        const bool from_html =
            !p.html.empty() && text.find_first_not_of(" \t\r\n") == std::string::npos;
        if (from_html) text = archive::HtmlAsText(p.html);
        if (ctx.json) {
          json atts = json::array();
          for (const auto& a : p.attachments)
            atts.push_back({{"filename", a.filename},
                            {"content_type", a.content_type},
                            {"size", a.content_omitted ? a.encoded_size : a.content.size()},
                            {"decoded", !a.content_omitted}});
          json ds = json::array();
          for (const auto& d : deliveries)
            ds.push_back({{"received_at", Time(d.delivery.received_at)},
                          {"source", d.delivery.source},
                          {"origin", d.delivery.origin},
                          {"folder", d.delivery.folder},
                          {"envelope_from", d.delivery.envelope_from},
                          {"recipients", d.delivery.recipients}});
          json j = {{"id", m.id},
                    {"sha256", HexEncode(m.sha256)},
                    {"size", m.size},
                    {"message_id", p.message_id},
                    {"subject", p.subject},
                    {"from", AddressesJson(p.from)},
                    {"to", AddressesJson(p.to)},
                    {"cc", AddressesJson(p.cc)},
                    {"bcc", AddressesJson(p.bcc)},
                    {"date", p.date ? json(Time(*p.date)) : json(nullptr)},
                    {"text", text},
                    {"text_from_html", from_html},
                    {"attachments", atts},
                    {"deliveries", ds},
                    {"problems", p.problems}};
          PrintJson(j);
          return Status::Ok();
        }
        std::printf("Message %lld  (%s, SHA-256 %s)\n", static_cast<long long>(m.id),
                    HumanBytes(m.size).c_str(), HexEncode(m.sha256).c_str());
        std::printf("From:    %s\n", AddressList(p.from).c_str());
        std::printf("To:      %s\n", AddressList(p.to).c_str());
        if (!p.cc.empty()) std::printf("Cc:      %s\n", AddressList(p.cc).c_str());
        if (!p.bcc.empty()) std::printf("Bcc:     %s\n", AddressList(p.bcc).c_str());
        std::printf("Date:    %s\n", p.date ? Time(*p.date).c_str() : "(none)");
        std::printf("Subject: %s\n", p.subject.c_str());
        if (!p.message_id.empty()) std::printf("Message-ID: <%s>\n", p.message_id.c_str());
        for (const auto& d : deliveries) {
          std::string rcpts;
          for (const auto& r : d.delivery.recipients) rcpts += (rcpts.empty() ? "" : ", ") + r;
          std::printf("Delivered %s (%s%s%s%s%s)\n", Time(d.delivery.received_at).c_str(),
                      d.delivery.source.c_str(), d.delivery.folder.empty() ? "" : ", folder ",
                      d.delivery.folder.c_str(), rcpts.empty() ? "" : ", envelope recipients ",
                      rcpts.c_str());
        }
        for (const auto& a : p.attachments)
          std::printf("Attachment: %s (%s, %s%s)\n",
                      a.filename.empty() ? "(unnamed)" : a.filename.c_str(), a.content_type.c_str(),
                      HumanBytes(a.content_omitted ? a.encoded_size : a.content.size()).c_str(),
                      a.content_omitted ? " as sent" : "");
        for (const auto& problem : p.problems) std::printf("Note: %s\n", problem.c_str());
        if (from_html) std::printf("(the message is HTML only: its text is shown as it reads)\n");
        std::printf("\n%s", text.c_str());
        if (!text.empty() && text.back() != '\n') std::printf("\n");
        return Status::Ok();
      });
    });
  }

  // export
  {
    auto* cmd = archive->add_subcommand(
        "export", "Write archived messages as .eml files or one mbox that mail clients open");
    auto ids = std::make_shared<std::vector<int64_t>>();
    auto format = std::make_shared<std::string>("eml");
    auto out = std::make_shared<std::string>();
    cmd->add_option("ids", *ids, "Message ids")->required();
    cmd->add_option("--format", *format,
                    "eml (one file per message, in the --out directory) or mbox")
        ->check(CLI::IsMember({"eml", "mbox"}))
        ->capture_default_str();
    cmd->add_option("--out", *out, "Directory (eml) or file (mbox) to write")->required();
    cmd->callback([&ctx, ids, format, out] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ArchiveDir(ctx)));
        TESSERA_ASSIGN_OR_RETURN(archive::Principal who,
                                 Authorize(ctx, *store, archive::Permission::kReadOwnMail,
                                           "archive.export", IdList(*ids)));
        TESSERA_RETURN_IF_ERROR(AuthorizeMessages(ctx, *store, who, *ids, "archive.export"));
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "archive.export", IdList(*ids), "to " + *out + " (" + *format + ")"));
        if (*format == "mbox")
          TESSERA_RETURN_IF_ERROR(archive::ExportMbox(*store, *ids, *out));
        else
          TESSERA_RETURN_IF_ERROR(archive::ExportEml(*store, *ids, *out));
        if (ctx.json)
          PrintJson({{"exported", ids->size()}, {"format", *format}, {"out", *out}});
        else
          std::printf("exported %zu messages to %s (%s)\n", ids->size(), out->c_str(),
                      format->c_str());
        return Status::Ok();
      });
    });
  }

  // restore
  {
    auto* cmd = archive->add_subcommand(
        "restore",
        "Re-deliver archived messages through SMTP, to their original recipients or --to");
    auto ids = std::make_shared<std::vector<int64_t>>();
    auto to = std::make_shared<std::vector<std::string>>();
    auto via = std::make_shared<std::string>("smtp://127.0.0.1:25");
    auto from = std::make_shared<std::string>();
    cmd->add_option("ids", *ids, "Message ids")->required();
    cmd->add_option("--to", *to,
                    "Recipient address (repeatable); default: each message's original "
                    "envelope recipients, Bcc included");
    cmd->add_option("--via", *via, "SMTP relay, smtp://HOST[:PORT]")->capture_default_str();
    cmd->add_option("--from", *from, "Envelope sender and Resent-From (default: archive@HOST)");
    cmd->callback([&ctx, ids, to, via, from] {
      Run(ctx, [&]() -> Status {
        archive::RedeliverOptions o;
        TESSERA_ASSIGN_OR_RETURN(o.relay, archive::ParseSmtpUrl(*via));
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        o.relay.helo = host[0] ? host : "localhost";
        o.from = from->empty() ? "archive@" + o.relay.helo : *from;
        o.to = *to;
        o.now = NowUnixSeconds();
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ArchiveDir(ctx)));
        TESSERA_ASSIGN_OR_RETURN(archive::Principal who,
                                 Authorize(ctx, *store, archive::Permission::kRestoreMail,
                                           "archive.restore", IdList(*ids)));
        TESSERA_RETURN_IF_ERROR(AuthorizeMessages(ctx, *store, who, *ids, "archive.restore"));
        if (!archive::Allows(who.role, archive::Permission::kReadAllMail)) {
          // A clerk restores their own mail to themselves, not elsewhere.
          const auto& mine = who.addresses;
          bool own = !to->empty();
          for (const auto& x : *to)
            own = own && std::find(mine.begin(), mine.end(), archive::AddressKey(x)) != mine.end();
          if (!own) {
            const std::string why = "a clerk restores mail only to their own address (--to)";
            TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.restore", IdList(*ids), "denied: " + why));
            return Status::PermissionDenied(why);
          }
        }
        std::string to_text;
        for (const auto& x : *to) to_text += (to_text.empty() ? "" : ",") + x;
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "archive.restore", IdList(*ids),
                  "to " + (to_text.empty() ? "original recipients" : to_text) + " via " + *via));
        TESSERA_ASSIGN_OR_RETURN(std::vector<archive::RedeliverResult> results,
                                 archive::Redeliver(*store, *ids, o));
        json out = json::array();
        size_t failed = 0;
        for (const auto& r : results) {
          if (!r.status.ok()) failed++;
          out.push_back({{"id", r.message},
                         {"recipients", r.recipients},
                         {"delivered", r.status.ok()},
                         {"error", r.status.ok() ? "" : r.status.message()}});
          if (!ctx.json) {
            std::string rcpts;
            for (const auto& x : r.recipients) rcpts += (rcpts.empty() ? "" : ", ") + x;
            if (r.status.ok())
              std::printf("message %lld re-delivered to %s via %s\n",
                          static_cast<long long>(r.message), rcpts.c_str(), via->c_str());
            else
              std::printf("message %lld NOT re-delivered: %s\n", static_cast<long long>(r.message),
                          r.status.message().c_str());
          }
        }
        if (ctx.json) PrintJson({{"restored", out}});
        if (failed) ctx.exit_code = kExitProblems;
        return Status::Ok();
      });
    });
  }

  // verify
  {
    auto* cmd = archive->add_subcommand(
        "verify",
        "Check the archive's hash chain, its records, and (with --read-data) every message");
    auto read_data = std::make_shared<bool>(false);
    cmd->add_flag("--read-data", *read_data,
                  "Also read every message and check it against its SHA-256");
    cmd->callback([&ctx, read_data] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ArchiveDir(ctx)));
        TESSERA_RETURN_IF_ERROR(
            Authorize(ctx, *store, archive::Permission::kReadAuditLog, "archive.verify", "")
                .status());
        TESSERA_ASSIGN_OR_RETURN(archive::VerifyReport r, store->Verify(*read_data));
        if (!r.problems.empty()) ctx.exit_code = kExitProblems;
        if (ctx.json) {
          PrintJson({{"messages", r.messages},
                     {"deliveries", r.deliveries},
                     {"chain_records", r.chain_records},
                     {"read_data", *read_data},
                     {"head", r.head},
                     {"ok", r.problems.empty()},
                     {"problems", r.problems}});
          return Status::Ok();
        }
        std::printf("%llu messages, %llu deliveries, %llu chain records%s\n",
                    static_cast<unsigned long long>(r.messages),
                    static_cast<unsigned long long>(r.deliveries),
                    static_cast<unsigned long long>(r.chain_records),
                    *read_data ? ", every message read" : "");
        std::printf("chain head: %s\n", r.head.c_str());
        for (const auto& p : r.problems) std::printf("PROBLEM: %s\n", p.c_str());
        std::printf(r.problems.empty() ? "archive OK\n" : "archive DAMAGED: %zu problems\n",
                    r.problems.size());
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
