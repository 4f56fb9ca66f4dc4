#include "archive/pdf_text.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "archive/attachment_text.hpp"
#include "base/utf8.hpp"

extern char** environ;

namespace tessera::archive {

namespace fs = std::filesystem;

std::string PdfTextHelperPath() {
  std::error_code ec;
  if (const char* env = std::getenv("TESSERA_PDF_TEXT"); env && *env) return env;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path() / "tessera-pdf-text", ec))
    return (self.parent_path() / "tessera-pdf-text").string();
#ifdef TESSERA_PDF_TEXT_BUILD_PATH
  if (fs::exists(TESSERA_PDF_TEXT_BUILD_PATH, ec)) return TESSERA_PDF_TEXT_BUILD_PATH;
#endif
  return "";
}

namespace {

using Clock = std::chrono::steady_clock;

// The helper process and the socket to it; one request at a time.
class Helper {
 public:
  ~Helper() { Stop(); }

  Result<std::string> Read(ByteView pdf, std::chrono::seconds deadline) {
    std::lock_guard<std::mutex> lock(mu_);
    if (pid_ < 0) TESSERA_RETURN_IF_ERROR(Start());
    const Clock::time_point until = Clock::now() + deadline;
    uint8_t length[4];
    const uint32_t n = static_cast<uint32_t>(pdf.size());
    for (int i = 0; i < 4; ++i) length[i] = static_cast<uint8_t>(n >> (8 * i));
    Status st = Send(length, sizeof length, until);
    if (st.ok()) st = Send(pdf.data(), pdf.size(), until);
    uint8_t header[5];
    if (st.ok()) st = Receive(header, sizeof header, until);
    std::string body;
    if (st.ok()) {
      const uint32_t size = header[1] | (uint32_t{header[2]} << 8) | (uint32_t{header[3]} << 16) |
                            (uint32_t{header[4]} << 24);
      if (size > kMaxAttachmentText + 65536) {
        st = Status::Corruption("the PDF reader answered nonsense");
      } else {
        body.resize(size);
        st = Receive(body.data(), size, until);
      }
    }
    if (!st.ok()) {
      Stop();  // in an unknown state: the next PDF gets a fresh one
      return st;
    }
    if (header[0] != 0) return Status::InvalidArgument(body);
    return ToValidUtf8(body);
  }

 private:
  Status Start() {
    const std::string path = PdfTextHelperPath();
    if (path.empty())
      return Status::Unavailable(
          "the PDF reader tessera-pdf-text is missing (it is built with tessera and belongs "
          "next to it; or set TESSERA_PDF_TEXT)");
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
      return Status::FromErrno("socketpair", errno);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pair[1], 0);
    posix_spawn_file_actions_adddup2(&actions, pair[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::string arg0 = path;
    char* argv[] = {arg0.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pair[1]);
    if (rc != 0) {
      ::close(pair[0]);
      return Status::Unavailable("cannot start the PDF reader " + path + ": " + std::strerror(rc));
    }
    pid_ = pid;
    fd_ = pair[0];
    return Status::Ok();
  }

  void Stop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }

  // Waits until the socket is ready for `events` or the deadline passes.
  Status Wait(short events, Clock::time_point until) {
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0)
        return Status::InvalidArgument("the PDF reader was stopped after the deadline");
      pollfd p{fd_, events, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return Status::FromErrno("poll", errno);
      if (ready > 0) return Status::Ok();
    }
  }

  Status Send(const void* data, size_t n, Clock::time_point until) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      TESSERA_RETURN_IF_ERROR(Wait(POLLOUT, until));
      const ssize_t put = ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (put < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (put <= 0) return Status::InvalidArgument("the PDF reader crashed reading it");
      p += put;
      n -= static_cast<size_t>(put);
    }
    return Status::Ok();
  }

  Status Receive(void* out, size_t n, Clock::time_point until) {
    auto* p = static_cast<uint8_t*>(out);
    while (n > 0) {
      TESSERA_RETURN_IF_ERROR(Wait(POLLIN, until));
      const ssize_t got = ::recv(fd_, p, n, MSG_DONTWAIT);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) return Status::InvalidArgument("the PDF reader crashed reading it");
      p += got;
      n -= static_cast<size_t>(got);
    }
    return Status::Ok();
  }

  std::mutex mu_;  // guards the helper: one PDF at a time
  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace

Result<std::string> PdfText(ByteView pdf, std::chrono::seconds deadline) {
  static Helper helper;
  return helper.Read(pdf, deadline);
}

}  // namespace tessera::archive
