// `tessera exchange validate | show`: 公文 DI/SW files checked against the official DTDs
// (compiled in) and shown as a printed 函 (exchange/document.hpp, document_render.hpp).
//
// validate's rule for the files around a DI: every attachment the DI declares is given with
// --attach and every --attach is one it declares (matched by file name), unless
// --no-attachments says only the DI itself is checked; a DI whose 受文者 is a 交換表 needs
// its SW file (--sw), whose name must be the one it declares. An invalid document exits 1,
// wrong arguments 2.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "base/files.hpp"
#include "cli/cli.hpp"
#include "exchange/document.hpp"
#include "exchange/document_render.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

std::string FileName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// Reads a DI or SW file, refusing one too large to be one before reading it.
Result<Bytes> ReadDocumentFile(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > exchange::kMaxDocumentBytes)
    return Status::InvalidArgument(path + ": " + std::to_string(size) +
                                   " bytes is too large for a 公文 DI or SW file");
  return ReadFile(path);
}

// A document that is not valid is what the command found, not a usage error: exit 1.
Status Found(Context& ctx, const Status& st) {
  if (st.ok()) return st;
  Fail(ctx, st);
  ctx.exit_code = kExitError;
  return Status::Ok();
}

json PartyJson(const exchange::DocumentParty& p) {
  return {{"name", p.name}, {"agency_code", p.agency_code}, {"unit_code", p.unit_code}};
}

json DocumentJson(const exchange::OfficialDocument& doc) {
  json attachments = json::array();
  for (const auto& a : doc.attachments)
    attachments.push_back({{"entity", a.entity}, {"file", a.file_name}});
  json fields = json::object();
  for (const auto& f : exchange::ArchiveFields(doc)) fields[f.name] = f.value;
  return {{"kind", std::string(exchange::DocumentKindName(doc.kind))},
          {"type", doc.letter_type},
          {"number", doc.number},
          {"date", doc.date},
          {"subject", doc.subject},
          {"sender", PartyJson(doc.sender)},
          {"roster_file", doc.roster_file},
          {"attachments", attachments},
          {"archive_fields", fields}};
}

std::string KindText(const exchange::OfficialDocument& doc) {
  std::string kind(exchange::DocumentKindName(doc.kind));
  if (!doc.letter_type.empty() && doc.letter_type != kind) kind += " (" + doc.letter_type + ")";
  return kind;
}

struct ValidateOptions {
  std::string di, sw;
  std::vector<std::string> attach;
  bool no_attachments = false;
};

Status Validate(Context& ctx, const ValidateOptions& o) {
  TESSERA_ASSIGN_OR_RETURN(Bytes di, ReadDocumentFile(o.di));
  auto doc = exchange::ParseDocument(di, FileName(o.di));
  if (!doc.ok()) return Found(ctx, doc.status());

  std::optional<exchange::Roster> roster;
  if (!o.sw.empty()) {
    TESSERA_ASSIGN_OR_RETURN(Bytes sw, ReadDocumentFile(o.sw));
    auto parsed = exchange::ParseRoster(sw, FileName(o.sw));
    if (!parsed.ok()) return Found(ctx, parsed.status());
    roster = std::move(parsed).value();
  }
  if (!doc->roster_file.empty() && !roster)
    return Found(ctx, Status::InvalidArgument(
                          FileName(o.di) + " sends to the recipients of its roster " +
                          doc->roster_file + " (受文者 交換表): give that SW file with --sw"));

  std::vector<std::string> given;
  for (const std::string& path : o.attach) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      return Status::NotFound(path + ": no such file (--attach names an attachment file)");
    given.push_back(FileName(path));
  }
  if (!o.sw.empty()) given.push_back(FileName(o.sw));
  exchange::OfficialDocument checked = *doc;
  if (o.no_attachments) checked.attachments.clear();
  if (Status st = exchange::CheckAttachments(checked, given); !st.ok()) {
    std::string message = FileName(o.di) + ": " + st.message();
    if (!o.no_attachments && o.attach.empty() && !doc->attachments.empty())
      message +=
          " (give each attachment with --attach FILE, or --no-attachments to check the "
          "DI alone)";
    return Found(ctx, Status::InvalidArgument(message));
  }

  // A 簽 stays inside its agency: it may have no recipient; a 函 must have one.
  std::vector<std::string> codes;
  if (doc->kind == exchange::DocumentKind::kLetter || !doc->recipients.empty() ||
      !doc->roster_file.empty()) {
    auto recipients = exchange::RecipientCodes(*doc, roster ? &*roster : nullptr);
    if (!recipients.ok())
      return Found(ctx,
                   Status::InvalidArgument(FileName(o.di) + ": " + recipients.status().message()));
    codes = std::move(recipients).value();
  }

  if (ctx.json) {
    json out = DocumentJson(*doc);
    out["ok"] = true;
    out["file"] = o.di;
    out["recipients"] = codes;
    out["attachments_checked"] = !o.no_attachments;
    if (roster) {
      json entries = json::array();
      for (const auto& e : roster->entries)
        entries.push_back({{"name", e.name},
                           {"agency_code", e.agency_code},
                           {"unit_code", e.unit_code},
                           {"with_attachments", e.with_attachments},
                           {"copy_kind", e.copy_kind}});
      out["roster"] = {{"file", o.sw}, {"entries", entries}};
    }
    PrintJson(out);
    return Status::Ok();
  }
  std::printf("%s: valid %s\n", o.di.c_str(), KindText(*doc).c_str());
  std::printf("  number:      %s\n", doc->number.c_str());
  std::printf("  subject:     %s\n", doc->subject.c_str());
  std::printf("  sender:      %s %s\n", doc->sender.name.c_str(), doc->sender.agency_code.c_str());
  std::string recipients;
  for (const std::string& c : codes) recipients += (recipients.empty() ? "" : ", ") + c;
  if (!doc->roster_file.empty()) recipients += " (roster " + doc->roster_file + ")";
  std::printf("  recipients:  %s\n", recipients.empty() ? "(none)" : recipients.c_str());
  std::string files;
  for (const auto& a : doc->attachments)
    files += (files.empty() ? "" : ", ") + a.file_name + " (" + a.entity + ")";
  if (files.empty()) files = "(none)";
  if (o.no_attachments && !doc->attachments.empty()) files += " [not checked: --no-attachments]";
  std::printf("  attachments: %s\n", files.c_str());
  return Status::Ok();
}

}  // namespace

void AddExchangeDocumentCommands(CLI::App& exchange, Context& ctx) {
  // validate
  {
    auto* cmd = exchange.add_subcommand(
        "validate",
        "Check a 公文 DI file (函 or 簽) against the official DTDs, with its SW file and "
        "attachments: each declared attachment must be given, nothing undeclared may be");
    auto o = std::make_shared<ValidateOptions>();
    cmd->add_option("DI", o->di, "The DI file (XML)")->required();
    cmd->add_option("--sw", o->sw,
                    "The SW file (交換表單): required when the DI's 受文者 is a 交換表");
    auto* attach = cmd->add_option("--attach", o->attach,
                                   "An attachment file the DI declares (repeat for each)");
    cmd->add_flag("--no-attachments", o->no_attachments,
                  "Check the DI (and SW) alone, not the attachment files it declares")
        ->excludes(attach);
    cmd->callback([&ctx, o] { Run(ctx, [&]() -> Status { return Validate(ctx, *o); }); });
  }
  // show
  {
    auto* cmd = exchange.add_subcommand(
        "show", "Print a 公文 DI file as its printed layout (text, or an HTML page with --html)");
    struct Options {
      std::string di;
      bool html = false;
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("DI", o->di, "The DI file (XML)")->required();
    cmd->add_flag("--html", o->html, "A complete HTML page (no scripts, loads nothing)");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(Bytes di, ReadDocumentFile(o->di));
        auto doc = exchange::ParseDocument(di, FileName(o->di));
        if (!doc.ok()) return Found(ctx, doc.status());
        const std::string rendered =
            o->html ? exchange::RenderHtml(*doc) : exchange::RenderText(*doc);
        if (ctx.json) {
          json out = DocumentJson(*doc);
          out["ok"] = true;
          out["file"] = o->di;
          out[o->html ? "html" : "text"] = rendered;
          PrintJson(out);
        } else {
          std::fwrite(rendered.data(), 1, rendered.size(), stdout);
        }
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
