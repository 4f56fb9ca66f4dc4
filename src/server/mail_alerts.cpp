#include "server/mail_alerts.hpp"

#include <ctime>

#include "base/bytes.hpp"
#include "crypto/random.hpp"
#include "server/audit.hpp"

namespace tessera::server {

std::string AlertMessage(const MailAlertOptions& options, const std::string& host,
                         const std::string& subject, const std::string& body, int64_t now) {
  std::string to;
  for (const std::string& r : options.to) to += (to.empty() ? "<" : ", <") + r + ">";
  const size_t at = options.from.find('@');
  const std::string domain = at == std::string::npos ? host : options.from.substr(at + 1);
  std::string m = "From: " + archive::EncodedWord("tessera " + host) + " <" + options.from +
                  ">\r\nTo: " + to + "\r\nSubject: " + archive::EncodedWord(subject) +
                  "\r\nDate: " + archive::Rfc5322Date(now) + "\r\nMessage-ID: <" +
                  HexEncode(crypto::RandomBytes(12)) + ".alert@" + domain +
                  ">\r\nAuto-Submitted: auto-generated\r\nX-Tessera-Alert: " + host +
                  "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n";
  // Lines of the body end in CRLF; SendMail's encoder escapes a leading dot.
  for (char c : body) m += c == '\n' ? std::string("\r\n") : std::string(1, c);
  if (body.empty() || body.back() != '\n') m += "\r\n";
  return m;
}

MailAlerts::MailAlerts(std::filesystem::path home, MailAlertOptions options, std::string host)
    : home_(std::move(home)), options_(std::move(options)), host_(std::move(host)) {}

Status MailAlerts::Report(const std::string& topic, const std::string& what,
                          const std::vector<std::string>& problems) {
  std::lock_guard lock(mu_);
  auto last = last_mailed_.find(topic);
  const bool alerted = last != last_mailed_.end() && !last->second.empty();
  if (problems.empty() && !alerted) return Status::Ok();
  if (alerted && last->second == problems) return Status::Ok();
  std::string subject, body;
  if (problems.empty()) {
    subject = "[tessera] 已恢復 cleared: " + topic + " on " + host_;
    body = "主機 Host: " + host_ + "\n" + what +
           "\n\n先前通報的問題已不再出現。\nThe problems reported before are no longer found.\n";
  } else {
    subject = "[tessera] 警示 ALERT: " + topic + " on " + host_ + " (" +
              std::to_string(problems.size()) + ")";
    body = "主機 Host: " + host_ + "\n" + what + "\n\n發現 Found:\n";
    for (const std::string& p : problems) body += "  - " + p + "\n";
    body +=
        "\n請依資安事件通報及應變程序處理。The audit log holds the details "
        "(`tessera guard audit`), and the SOC receives them.\n";
  }
  Status sent = Send(topic, subject, body);
  // Remembered only once sent, so the next check tries again.
  if (sent.ok()) last_mailed_[topic] = problems;
  return sent;
}

Status MailAlerts::Send(const std::string& topic, const std::string& subject,
                        const std::string& body) {
  const std::string message =
      AlertMessage(options_, host_, subject, body, static_cast<int64_t>(std::time(nullptr)));
  Status sent = archive::SendMail(
      options_.relay, options_.from, options_.to,
      [&](const std::function<Status(ByteView)>& sink) { return sink(AsBytes(message)); });
  std::string to;
  for (const std::string& r : options_.to) to += (to.empty() ? "" : ", ") + r;
  const std::string outcome = sent.ok() ? "mailed to " + to + " through " + options_.relay.host +
                                              ":" + std::to_string(options_.relay.port)
                                        : "NOT mailed to " + to + ": " + sent.message();
  if (Status st = RecordAudit(home_, "guard.alert", topic + ": " + subject, outcome); !st.ok())
    return sent.ok() ? st : sent;
  return sent;
}

}  // namespace tessera::server
