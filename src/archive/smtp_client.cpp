#include "archive/smtp_client.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <ctime>

namespace tessera::archive {
namespace {

class Connection {
 public:
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Connect(const SmtpRelay& relay) {
    where_ = relay.host + ":" + std::to_string(relay.port);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(relay.host.c_str(), std::to_string(relay.port).c_str(), &hints, &found);
    if (rc != 0) return Status::Unavailable("SMTP relay " + where_ + ": " + ::gai_strerror(rc));
    int err = 0;
    for (addrinfo* a = found; a; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) continue;
      timeval tv{static_cast<time_t>(relay.timeout.count()), 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0) break;
      err = errno;
      ::close(fd_);
      fd_ = -1;
    }
    ::freeaddrinfo(found);
    if (fd_ < 0)
      return Status::Unavailable("cannot connect to the SMTP relay " + where_ + ": " +
                                 std::strerror(err));
    return Status::Ok();
  }

  Status Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::Unavailable("SMTP relay " + where_ + ": " + std::strerror(errno));
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  // Reads one (possibly multi-line) reply; its code must be `want` (first digit).
  Status Expect(char want, const std::string& after) {
    std::string reply;
    while (true) {
      size_t lf;
      while ((lf = buffer_.find('\n')) == std::string::npos) {
        char chunk[4096];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
          return Status::Unavailable("SMTP relay " + where_ +
                                     " closed the connection or did "
                                     "not answer after " +
                                     after);
        buffer_.append(chunk, static_cast<size_t>(n));
      }
      std::string line = buffer_.substr(0, lf);
      buffer_.erase(0, lf + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      reply += (reply.empty() ? "" : " / ") + line;
      if (line.size() < 4 || line[3] != '-') break;
    }
    if (reply.size() >= 3 && reply[0] == want) return Status::Ok();
    const std::string what = "SMTP relay " + where_ + " refused " + after + ": " + reply;
    if (!reply.empty() && reply[0] == '4') return Status::Unavailable(what + " (try again later)");
    return Status::InvalidArgument(what);
  }

 private:
  int fd_ = -1;
  std::string where_;
  std::string buffer_;
};

}  // namespace

std::string EncodedWord(const std::string& text) {
  return "=?UTF-8?B?" + Base64Encode(AsBytes(text)) + "?=";
}

std::string Rfc5322Date(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return buf;
}

Result<SmtpRelay> ParseSmtpUrl(const std::string& url) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + url + "' is not an SMTP relay: write smtp://HOST[:PORT]");
  };
  if (url.rfind("smtp://", 0) != 0) return bad();
  std::string rest = url.substr(7);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  SmtpRelay relay;
  size_t colon = rest.rfind(':');
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos) return bad();
    relay.host = rest.substr(1, close - 1);
    colon = rest.size() > close + 1 && rest[close + 1] == ':' ? close + 1 : std::string::npos;
  } else {
    relay.host = rest.substr(0, colon);
  }
  if (colon != std::string::npos) {
    std::string_view port = std::string_view(rest).substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad();
    relay.port = static_cast<uint16_t>(value);
  }
  if (relay.host.empty() || relay.host.find('/') != std::string::npos) return bad();
  return relay;
}

namespace {
constexpr size_t kDataFlushBytes = 256 << 10;
}  // namespace

Status SmtpDataEncoder::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status st = out_(buffer_);
  buffer_.clear();
  return st;
}

Status SmtpDataEncoder::Write(ByteView piece) {
  for (const uint8_t byte : piece) {
    const char c = static_cast<char>(byte);
    if (held_cr_) {
      held_cr_ = false;
      if (c == '\n') {
        buffer_ += "\r\n";
        line_start_ = true;
        continue;
      }
      buffer_ += '\r';  // a CR inside a line stays
    }
    if (line_start_ && c == '.') buffer_ += '.';
    line_start_ = false;
    if (c == '\r') {
      held_cr_ = true;
    } else if (c == '\n') {
      buffer_ += "\r\n";
      line_start_ = true;
    } else {
      buffer_ += c;
    }
    if (buffer_.size() >= kDataFlushBytes) TESSERA_RETURN_IF_ERROR(Flush());
  }
  return Status::Ok();
}

Status SmtpDataEncoder::Finish() {
  if (held_cr_ || !line_start_) buffer_ += "\r\n";
  held_cr_ = false;
  line_start_ = true;
  buffer_ += ".\r\n";
  return Flush();
}

Status SendMail(const SmtpRelay& relay, const std::string& from,
                const std::vector<std::string>& recipients, const MailWriter& write) {
  if (recipients.empty()) return Status::InvalidArgument("no recipient to send the message to");
  Connection c;
  TESSERA_RETURN_IF_ERROR(c.Connect(relay));
  TESSERA_RETURN_IF_ERROR(c.Expect('2', "the connection"));
  TESSERA_RETURN_IF_ERROR(c.Send("EHLO " + relay.helo + "\r\n"));
  TESSERA_RETURN_IF_ERROR(c.Expect('2', "EHLO"));
  TESSERA_RETURN_IF_ERROR(c.Send("MAIL FROM:<" + from + ">\r\n"));
  TESSERA_RETURN_IF_ERROR(c.Expect('2', "MAIL FROM:<" + from + ">"));
  for (const std::string& r : recipients) {
    TESSERA_RETURN_IF_ERROR(c.Send("RCPT TO:<" + r + ">\r\n"));
    TESSERA_RETURN_IF_ERROR(c.Expect('2', "RCPT TO:<" + r + ">"));
  }
  TESSERA_RETURN_IF_ERROR(c.Send("DATA\r\n"));
  TESSERA_RETURN_IF_ERROR(c.Expect('3', "DATA"));
  SmtpDataEncoder data([&](std::string_view text) { return c.Send(text); });
  // An error here returns before the final dot; the connection is closed on the way out.
  TESSERA_RETURN_IF_ERROR(write([&](ByteView piece) { return data.Write(piece); }));
  TESSERA_RETURN_IF_ERROR(data.Finish());
  TESSERA_RETURN_IF_ERROR(c.Expect('2', "the message"));
  (void)c.Send("QUIT\r\n");
  return Status::Ok();
}

}  // namespace tessera::archive
