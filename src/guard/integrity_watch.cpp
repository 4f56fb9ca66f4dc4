#include "guard/integrity_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/log.hpp"

namespace tessera::guard {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct IntegrityWatch::Impl {
  IntegrityWatchOptions options;
  int inotify_fd = -1;
  int stop_fd = -1;  // an eventfd: Stop() wakes the poll
  std::set<std::string> watched;

  ~Impl() {
    if (inotify_fd >= 0) ::close(inotify_fd);
    if (stop_fd >= 0) ::close(stop_fd);
  }

  // Watches every directory the baseline records (and each root's parent, for a root that
  // is a file or is replaced); called again after each check, for a baseline recorded anew.
  void AddWatches() {
    if (inotify_fd < 0) return;
    auto loaded = SignedBaseline::Load(options.baseline);
    if (!loaded.ok()) return;
    std::set<std::string> dirs;
    for (const IntegrityEntry& e : loaded->baseline.entries)
      if (e.type == 'd') dirs.insert(e.path);
    for (const std::string& root : loaded->baseline.roots)
      dirs.insert(fs::path(root).parent_path().string());
    constexpr uint32_t kEvents = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                 IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
    for (const std::string& d : dirs) {
      if (watched.contains(d)) continue;
      if (::inotify_add_watch(inotify_fd, d.c_str(), kEvents) < 0) {
        if (errno == ENOSPC) {
          spdlog::warn(
              "integrity watch: the inotify watch limit is reached ({} directories watched); "
              "the rest is checked every {} s (raise fs.inotify.max_user_watches)",
              watched.size(), options.period.count());
          return;
        }
        continue;  // gone since the baseline: the check reports it
      }
      watched.insert(d);
    }
  }

  // Reads what inotify has queued; true when anything happened.
  bool DrainEvents() {
    bool any = false;
    alignas(inotify_event) char buffer[16384];
    while (true) {
      const ssize_t n = ::read(inotify_fd, buffer, sizeof buffer);
      if (n <= 0) break;
      any = true;
    }
    return any;
  }
};

IntegrityWatch::IntegrityWatch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IntegrityWatch::~IntegrityWatch() = default;

Result<std::unique_ptr<IntegrityWatch>> IntegrityWatch::Open(IntegrityWatchOptions options) {
  TESSERA_RETURN_IF_ERROR(SignedBaseline::Load(options.baseline).status());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->stop_fd < 0) return Status::FromErrno("eventfd", errno);
  if (impl->options.inotify) {
    impl->inotify_fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (impl->inotify_fd < 0)
      spdlog::warn("integrity watch: inotify is not available ({}); checking every {} s only",
                   std::strerror(errno), impl->options.period.count());
    impl->AddWatches();
  }
  return std::unique_ptr<IntegrityWatch>(new IntegrityWatch(std::move(impl)));
}

size_t IntegrityWatch::watched_directories() const {
  return impl_->watched.size();
}

void IntegrityWatch::Stop() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->stop_fd, &one, sizeof one);
}

Status IntegrityWatch::Run(const std::function<void(const Result<IntegrityReport>&)>& on_report) {
  Impl& m = *impl_;
  Clock::time_point next_period = Clock::now() + m.options.period;
  bool changed = false;              // a change seen: check once it settles
  Clock::time_point settle_until{};  // when `changed`
  Clock::time_point first_change{};  // changes that never settle still get checked
  while (true) {
    const Clock::time_point due = changed ? std::min(settle_until, next_period) : next_period;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
    pollfd fds[2] = {{m.stop_fd, POLLIN, 0}, {m.inotify_fd, POLLIN, 0}};
    const int nfds = m.inotify_fd >= 0 ? 2 : 1;
    const int ready = ::poll(fds, nfds, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (ready < 0 && errno != EINTR) return Status::FromErrno("integrity watch: poll", errno);
    if (fds[0].revents & POLLIN) return Status::Ok();
    if (nfds == 2 && (fds[1].revents & POLLIN) && m.DrainEvents()) {
      // Each change pushes the check back until the changes settle, but not beyond five
      // settling times after the first: a tree that keeps changing is still checked.
      if (!changed) first_change = Clock::now();
      changed = true;
      settle_until = std::min(Clock::now() + m.options.settle, first_change + 5 * m.options.settle);
    }
    const Clock::time_point now = Clock::now();
    if ((changed && now >= settle_until) || now >= next_period) {
      changed = false;
      on_report(CheckIntegrity(m.options.baseline, m.options.key, nullptr));
      // The check's own reads raise no events (inotify reports no reads); a new baseline
      // may name new directories.
      m.AddWatches();
      next_period = Clock::now() + m.options.period;
    }
  }
}

}  // namespace tessera::guard
