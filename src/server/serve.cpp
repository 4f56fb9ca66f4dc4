#include "server/serve.hpp"

#include <unistd.h>

#include <charconv>

#include "archive/mail_listener.hpp"
#include "archive/message_store.hpp"
#include "archive/search_index.hpp"
#include "base/log.hpp"

namespace tessera::server {
namespace {

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + text +
                                   "' is not a listen address: write HOST:PORT, e.g. "
                                   "127.0.0.1:10024 or [::1]:10024");
  };
  std::string host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find("]:");
    if (close == std::string::npos) return bad();
    host = text.substr(1, close - 1);
    port = std::string_view(text).substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return bad();
    host = text.substr(0, colon);
    port = std::string_view(text).substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535)
    return bad();
  return std::make_pair(host, static_cast<uint16_t>(value));
}

Status Serve(const ServeConfig& config, const std::function<void(const std::string&)>& ready) {
  const ArchiveRoleConfig& ac = config.archive;
  std::vector<archive::MailListenerConfig> listeners;
  std::vector<std::string> names;
  for (auto [text, protocol] : {std::pair{ac.lmtp, archive::MailProtocol::kLmtp},
                                std::pair{ac.smtp, archive::MailProtocol::kSmtp}}) {
    if (text.empty()) continue;
    TESSERA_ASSIGN_OR_RETURN(auto where, ParseListenAddress(text));
    archive::MailListenerConfig l;
    l.address = where.first;
    l.port = where.second;
    l.protocol = protocol;
    l.hostname = ac.hostname.empty() ? HostName() : ac.hostname;
    l.limits.max_message_bytes = ac.max_message_bytes;
    listeners.push_back(l);
    names.push_back(protocol == archive::MailProtocol::kLmtp ? "LMTP" : "SMTP");
  }
  if (listeners.empty())
    return Status::InvalidArgument(
        "no role has anything to serve: set [archive] lmtp or smtp in the settings");

  const std::filesystem::path archive_dir = config.home / "archive";
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<archive::MessageStore> store,
                           archive::MessageStore::Open(archive_dir));
  archive::MessageStore* s = store.get();
  const archive::JournalOptions journal = ac.journal;
  TESSERA_ASSIGN_OR_RETURN(
      std::unique_ptr<archive::MailServer> server,
      archive::MailServer::Bind(listeners, [s, journal](const archive::MailEnvelope& envelope,
                                                        archive::MailProtocol protocol,
                                                        const std::string& peer, Bytes message) {
        return archive::ArchiveJournaled(*s, envelope, protocol, peer, message, journal);
      }));

  // The search index follows the store: what arrived is indexed every two seconds, on the
  // storage thread, so indexing never races a message being stored.
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<archive::SearchIndex> index,
                           archive::SearchIndex::OpenForWriting(archive_dir / "index"));
  archive::SearchIndex* ix = index.get();
  server->RunPeriodically(std::chrono::seconds(2), [s, ix] {
    Result<archive::CatchUpReport> r = ix->CatchUp(*s, nullptr);
    if (!r.ok()) {
      spdlog::error("search index: {} (messages stay archived; indexing is tried again)",
                    r.status().ToString());
      return;
    }
    if (r->messages) spdlog::info("search index: indexed {} message(s)", r->messages);
    for (const std::string& p : r->problems) spdlog::warn("search index: {}", p);
  });

  std::error_code ec;
  std::string text = "tessera serve: running\n";
  text += "  home:            " + std::filesystem::absolute(config.home, ec).string() + "\n";
  text += "  archive:         " + std::filesystem::absolute(archive_dir, ec).string() + " (" +
          std::to_string(s->MessageCount()) + " messages)\n";
  const std::vector<uint16_t> ports = server->ports();
  for (size_t i = 0; i < listeners.size(); ++i)
    text += "  " + names[i] + " listener:   " + listeners[i].address + ":" +
            std::to_string(ports[i]) + " (journal: every message is archived)\n";
  if (!ac.journal.recipients_header.empty())
    text += "  true recipients: from the " + ac.journal.recipients_header +
            " fields an MTA prepends (README, \"Journaling from Postfix\")\n";
  text += "Stop with Ctrl-C or SIGTERM.";
  ready(text);
  TESSERA_RETURN_IF_ERROR(server->Run(/*stop_on_signals=*/true));
  spdlog::warn("tessera serve: stopped; the archive holds {} messages", s->MessageCount());
  return Status::Ok();
}

}  // namespace tessera::server
