// Alerts by mail: seed 002 asks that intrusion into and tampering with the system's files
// "raise an alert" to people, not only to a log. With [guard.alert], what the integrity
// checks find and the problems of the release check reach the addresses given through
// the agency's relay, besides the audit log and the SOC. A finding that persists is
// mailed once, not at every check: a mail goes out when a topic's findings change, and
// one more when they are cleared. Every mail, sent or not, is recorded in the audit log
// (guard.alert), so a relay that is down is visible there and at the SOC.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "archive/smtp_client.hpp"
#include "base/status.hpp"

namespace tessera::server {

struct MailAlertOptions {
  archive::SmtpRelay relay;     // [guard.alert] smtp = "smtp://host:port"
  std::string from;             // default: tessera@<host name>
  std::vector<std::string> to;  // at least one address
};

// The text of one alert as an RFC 5322 message (UTF-8 subject and body, CRLF lines).
std::string AlertMessage(const MailAlertOptions& options, const std::string& host,
                         const std::string& subject, const std::string& body, int64_t now);

class MailAlerts {
 public:
  MailAlerts(std::filesystem::path home, MailAlertOptions options, std::string host);

  // The latest outcome of the check named `topic` ("integrity", "release"): `problems`
  // empty when in order. Mails when the problems differ from those last mailed for the
  // topic, or when they were cleared after an alert; otherwise does nothing. Returns what
  // SendMail returned (OK when nothing needed sending); the caller logs it. Thread-safe.
  Status Report(const std::string& topic, const std::string& what,
                const std::vector<std::string>& problems);

  const MailAlertOptions& options() const { return options_; }

 private:
  Status Send(const std::string& topic, const std::string& subject, const std::string& body);

  const std::filesystem::path home_;
  const MailAlertOptions options_;
  const std::string host_;
  std::mutex mu_;                                                // guards last_mailed_
  std::map<std::string, std::vector<std::string>> last_mailed_;  // topic -> problems mailed
};

}  // namespace tessera::server
