#include "archive/attachment_text.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "archive/charset.hpp"
#include "archive/pdf_text.hpp"
#include "base/utf8.hpp"

extern char** environ;

namespace tessera::archive {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

enum class Kind { kNone, kPdf, kOfficeZip, kHtml, kText };

Kind KindOf(const MailAttachment& a) {
  const std::string type = AsciiLower(a.content_type);
  const std::string name = AsciiLower(a.filename);
  auto ext = [&](std::initializer_list<const char*> list) {
    return std::any_of(list.begin(), list.end(), [&](const char* e) { return EndsWith(name, e); });
  };
  if (type == "application/pdf" || ext({".pdf"})) return Kind::kPdf;
  if (type.find("officedocument") != std::string::npos ||
      type.find("opendocument") != std::string::npos ||
      ext({".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"}))
    return Kind::kOfficeZip;
  if (type == "text/html" || ext({".html", ".htm"})) return Kind::kHtml;
  if (type.rfind("text/", 0) == 0 || ext({".txt", ".csv", ".log", ".md"})) return Kind::kText;
  return Kind::kNone;
}

}  // namespace

// A file crafted to make the reader spin stops at the deadline. It is kept here rather
// than by timeout(1), which would cost a second process per attachment.
Result<std::string> RunTextFilter(std::vector<std::string> argv, std::chrono::seconds limit) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return Status::Unavailable("cannot run " + argv[0] + ": " + std::strerror(rc) +
                               " (scripts/install-deps.sh installs it)");
  }
  std::string text;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    struct pollfd p {
      out[0], POLLIN, 0
    };
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;  // the deadline is checked above
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (text.size() < kMaxAttachmentText) text.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return Status::InvalidArgument(argv[0] + " was stopped after " + std::to_string(limit.count()) +
                                   " s reading it");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Status::InvalidArgument(argv[0] + " could not read it");
  if (text.size() > kMaxAttachmentText) text.resize(kMaxAttachmentText);
  return text;
}

namespace {

// The parts of an Office Open XML or OpenDocument file that hold its text.
bool IsTextPart(const std::string& name) {
  if (name == "word/document.xml" || name == "xl/sharedStrings.xml" || name == "content.xml")
    return true;
  auto in = [&](const char* dir) { return name.rfind(dir, 0) == 0 && EndsWith(name, ".xml"); };
  return in("word/header") || in("word/footer") || in("word/footnotes") || in("ppt/slides/slide") ||
         in("ppt/notesSlides/") || in("xl/worksheets/sheet");
}

Result<std::string> OfficeText(const Bytes& zip) {
  struct archive* a = archive_read_new();
  archive_read_support_format_zip(a);
  std::string text;
  Status st;
  if (archive_read_open_memory(a, zip.data(), zip.size()) != ARCHIVE_OK) {
    st = Status::InvalidArgument(std::string("not a zip file: ") + archive_error_string(a));
  } else {
    struct archive_entry* entry = nullptr;
    int rc;
    while ((rc = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
      const char* name = archive_entry_pathname(entry);
      if (!name || !IsTextPart(name)) continue;
      std::string xml;
      char buf[65536];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
        xml.append(buf, static_cast<size_t>(n));
        if (xml.size() > 8 * kMaxAttachmentText) break;  // a zip bomb is cut short
      }
      if (n < 0) {
        st = Status::InvalidArgument(std::string("damaged zip: ") + archive_error_string(a));
        break;
      }
      text += MarkupText(xml);
      text += '\n';
      if (text.size() >= kMaxAttachmentText) break;
    }
    if (st.ok() && rc != ARCHIVE_EOF && rc != ARCHIVE_OK)
      st = Status::InvalidArgument(std::string("damaged zip: ") + archive_error_string(a));
  }
  archive_read_free(a);
  if (!st.ok()) return st;
  if (text.size() > kMaxAttachmentText) text.resize(kMaxAttachmentText);
  return ToValidUtf8(text);
}

}  // namespace

std::string MarkupText(std::string_view markup) {
  std::string out;
  out.reserve(markup.size() / 2);
  size_t i = 0;
  while (i < markup.size()) {
    const char c = markup[i];
    if (c == '<') {
      size_t end = markup.find('>', i);
      if (end == std::string_view::npos) break;
      std::string_view tag = markup.substr(i + 1, end - i - 1);
      // Local name of the tag, without '/', namespace prefix and attributes.
      bool closing = !tag.empty() && tag.front() == '/';
      if (closing) tag.remove_prefix(1);
      size_t stop = tag.find_first_of(" \t\r\n/");
      std::string_view name = tag.substr(0, stop);
      if (size_t colon = name.find(':'); colon != std::string_view::npos)
        name.remove_prefix(colon + 1);
      const std::string lname = AsciiLower(name);
      const bool self_closing = !tag.empty() && tag.back() == '/';
      // Words in one paragraph are often split over several runs (<w:t>國稅</w:t><w:t>局</w:t>):
      // only the end of a block separates text.
      static const char* kBreaks[] = {"p",   "h",  "h1",  "h2",         "h3", "h4", "si",
                                      "tc",  "tr", "row", "c",          "td", "th", "li",
                                      "div", "br", "tab", "line-break", "s"};
      bool breaks = std::any_of(std::begin(kBreaks), std::end(kBreaks),
                                [&](const char* b) { return lname == b; });
      if (lname == "s" && !closing && !self_closing) breaks = false;  // <text:s/> is a space
      if (breaks && (closing || self_closing || lname == "br" || lname == "p" || lname == "div"))
        out += lname == "s" || lname == "tab" ? ' ' : '\n';
      // Skip the content of <script> and <style>.
      if (!closing && (lname == "script" || lname == "style")) {
        size_t close = AsciiLower(markup.substr(end)).find("</" + lname);
        i = close == std::string::npos ? markup.size() : end + close;
        continue;
      }
      i = end + 1;
    } else if (c == '&') {
      size_t semi = markup.find(';', i);
      if (semi == std::string_view::npos || semi - i > 10) {
        out += c;
        ++i;
        continue;
      }
      std::string_view entity = markup.substr(i + 1, semi - i - 1);
      if (entity == "amp")
        out += '&';
      else if (entity == "lt")
        out += '<';
      else if (entity == "gt")
        out += '>';
      else if (entity == "quot")
        out += '"';
      else if (entity == "apos")
        out += '\'';
      else if (entity == "nbsp")
        out += ' ';
      else if (!entity.empty() && entity[0] == '#') {
        unsigned long code = 0;
        if (entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X'))
          code = std::strtoul(std::string(entity.substr(2)).c_str(), nullptr, 16);
        else
          code = std::strtoul(std::string(entity.substr(1)).c_str(), nullptr, 10);
        if (code != 0 && code <= 0x10FFFF) AppendUtf8(out, static_cast<uint32_t>(code));
      } else {
        out.append(markup.substr(i, semi - i + 1));
      }
      i = semi + 1;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

Result<std::string> AttachmentText(const MailAttachment& attachment) {
  if (attachment.content.empty()) return std::string();
  switch (KindOf(attachment)) {
    case Kind::kPdf:
      return PdfText(attachment.content);
    case Kind::kOfficeZip:
      return OfficeText(attachment.content);
    case Kind::kHtml:
      return ToValidUtf8(MarkupText(DecodeText(AsString(attachment.content), "").utf8));
    case Kind::kText: {
      std::string text = DecodeText(AsString(attachment.content), "").utf8;
      if (text.size() > kMaxAttachmentText) text.resize(kMaxAttachmentText);
      return ToValidUtf8(text);
    }
    case Kind::kNone:
      break;
  }
  return std::string();
}

}  // namespace tessera::archive
