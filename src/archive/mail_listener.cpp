#include "archive/mail_listener.hpp"

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "base/log.hpp"

namespace tessera::archive {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

// A line longer than this reaches the session in pieces (a command that long is refused;
// a data line that long is kept whole).
constexpr size_t kMaxLinePiece = 64 * 1024;

struct Connection {
  Connection(tcp::socket s, const MailListenerConfig& config)
      : socket(std::move(s)),
        timer(socket.get_executor()),
        session(config.protocol, config.hostname, config.limits) {}
  tcp::socket socket;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
  SmtpSession session;
  std::string peer;
};

std::string Describe(const tcp::endpoint& e) {
  return e.address().to_string() + ":" + std::to_string(e.port());
}

// Closes the connection when it stays idle past its deadline.
awaitable<void> Watchdog(std::shared_ptr<Connection> c) {
  boost::system::error_code ec;
  while (c->socket.is_open()) {
    c->timer.expires_at(c->deadline);
    co_await c->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (c->deadline <= std::chrono::steady_clock::now()) {
      spdlog::info("mail listener: {} idle too long, closing", c->peer);
      c->socket.close(ec);
      co_return;
    }
  }
}

}  // namespace

struct MailServer::Impl {
  asio::io_context io{1};
  asio::thread_pool storage{1};
  std::vector<MailListenerConfig> configs;
  std::vector<tcp::acceptor> acceptors;
  MessageSink sink;
  std::vector<std::pair<std::chrono::milliseconds, std::function<void()>>> periodic;

  awaitable<void> Accept(size_t index);
  awaitable<void> Serve(std::shared_ptr<Connection> c, const MailListenerConfig& config);
  awaitable<Status> Store(Connection& c, const MailListenerConfig& config);
  awaitable<void> Periodically(std::chrono::milliseconds period, std::function<void()> task);
};

awaitable<void> MailServer::Impl::Periodically(std::chrono::milliseconds period,
                                               std::function<void()> task) {
  asio::steady_timer timer(io);
  boost::system::error_code ec;
  while (true) {
    auto run = [&task]() -> awaitable<void> {
      try {
        task();
      } catch (const std::exception& e) {
        spdlog::error("periodic task failed: {}", e.what());
      }
      co_return;
    };
    co_await asio::co_spawn(storage, run, use_awaitable);
    timer.expires_after(period);
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
  }
}

awaitable<Status> MailServer::Impl::Store(Connection& c, const MailListenerConfig& config) {
  Bytes message = c.session.TakeMessage();
  const MailEnvelope& envelope = c.session.envelope();
  auto task = [this, &envelope, &config, &c, &message]() -> awaitable<Status> {
    try {
      co_return sink(envelope, config.protocol, c.peer, std::move(message));
    } catch (const std::exception& e) {
      co_return Status::Internal(std::string("storing a message: ") + e.what());
    }
  };
  // The store runs on the storage thread; this connection waits, others go on.
  co_return co_await asio::co_spawn(storage, task, use_awaitable);
}

awaitable<void> MailServer::Impl::Serve(std::shared_ptr<Connection> c,
                                        const MailListenerConfig& config) {
  boost::system::error_code ec;
  c->peer = Describe(c->socket.remote_endpoint(ec));
  spdlog::debug("mail listener: connection from {}", c->peer);
  auto touch = [&] { c->deadline = std::chrono::steady_clock::now() + config.idle_timeout; };
  touch();
  asio::co_spawn(c->socket.get_executor(), Watchdog(c), asio::detached);

  std::string out = c->session.Greeting();
  std::string in;
  char block[16 * 1024];
  bool closing = false;
  while (!closing) {
    if (!out.empty()) {
      co_await asio::async_write(c->socket, asio::buffer(out),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      out.clear();
    }
    size_t n = co_await c->socket.async_read_some(asio::buffer(block),
                                                  asio::redirect_error(use_awaitable, ec));
    if (ec) break;  // closed by the peer, the watchdog, or the server stopping
    touch();
    in.append(block, n);
    size_t start = 0;
    while (!closing) {
      size_t lf = in.find('\n', start);
      SmtpSession::Step step;
      if (lf == std::string::npos) {
        if (in.size() - start < kMaxLinePiece) break;
        step = c->session.OnLine(std::string_view(in).substr(start, kMaxLinePiece), true);
        start += kMaxLinePiece;
      } else {
        std::string_view line = std::string_view(in).substr(start, lf - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        step = c->session.OnLine(line, false);
        start = lf + 1;
      }
      out += step.reply;
      if (step.message_ready) {
        Status stored = co_await Store(*c, config);
        if (!stored.ok())
          spdlog::error(
              "mail listener: could not store a message from {} (asked it to try "
              "again later): {}",
              c->peer, stored.ToString());
        out += c->session.Finish(stored);
        touch();
      }
      closing = step.close;
    }
    in.erase(0, start);
  }
  if (closing && !out.empty())
    co_await asio::async_write(c->socket, asio::buffer(out),
                               asio::redirect_error(use_awaitable, ec));
  c->socket.shutdown(tcp::socket::shutdown_both, ec);
  c->socket.close(ec);
  c->timer.cancel();
}

awaitable<void> MailServer::Impl::Accept(size_t index) {
  tcp::acceptor& acceptor = acceptors[index];
  const MailListenerConfig& config = configs[index];
  boost::system::error_code ec;
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      spdlog::warn("mail listener: accept failed: {}", ec.message());
      continue;
    }
    auto c = std::make_shared<Connection>(std::move(socket), config);
    asio::co_spawn(io, Serve(c, config), asio::detached);
  }
}

MailServer::MailServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MailServer::~MailServer() {
  Stop();
  impl_->storage.join();
}

Result<std::unique_ptr<MailServer>> MailServer::Bind(std::vector<MailListenerConfig> listeners,
                                                     MessageSink sink) {
  auto impl = std::make_unique<Impl>();
  impl->configs = std::move(listeners);
  impl->sink = std::move(sink);
  for (const MailListenerConfig& config : impl->configs) {
    boost::system::error_code ec;
    const std::string where = config.address + ":" + std::to_string(config.port);
    asio::ip::address address = asio::ip::make_address(config.address, ec);
    if (ec) return Status::InvalidArgument("'" + config.address + "' is not an IP address");
    tcp::acceptor acceptor(impl->io);
    tcp::endpoint endpoint(address, config.port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::Unavailable("cannot listen on " + where + ": " + ec.message() +
                                 " (is another server using the port?)");
    impl->acceptors.push_back(std::move(acceptor));
  }
  return std::unique_ptr<MailServer>(new MailServer(std::move(impl)));
}

std::vector<uint16_t> MailServer::ports() const {
  std::vector<uint16_t> out;
  for (const tcp::acceptor& a : impl_->acceptors) {
    boost::system::error_code ec;
    out.push_back(a.local_endpoint(ec).port());
  }
  return out;
}

void MailServer::RunPeriodically(std::chrono::milliseconds period, std::function<void()> task) {
  impl_->periodic.emplace_back(period, std::move(task));
}

Status MailServer::Run(bool stop_on_signals) {
  for (size_t i = 0; i < impl_->acceptors.size(); ++i)
    asio::co_spawn(impl_->io, impl_->Accept(i), asio::detached);
  for (auto& [period, task] : impl_->periodic)
    asio::co_spawn(impl_->io, impl_->Periodically(period, task), asio::detached);
  asio::signal_set signals(impl_->io);
  if (stop_on_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      spdlog::warn("mail listener: signal {} received, stopping", signal);
      Stop();
    });
  }
  try {
    impl_->io.run();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("mail listener: ") + e.what());
  }
  return Status::Ok();
}

void MailServer::Stop() {
  impl_->io.stop();
}

}  // namespace tessera::archive
