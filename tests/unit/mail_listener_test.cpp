#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdlib.h>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "archive/journal.hpp"
#include "archive/mail_listener.hpp"
#include "archive/redeliver.hpp"
#include "archive/smtp_session.hpp"
#include "piece_messages.hpp"

namespace tessera::archive {
namespace {

// Feeds a whole conversation (lines separated by "\n") and returns every reply in order.
std::string Talk(SmtpSession& s, const std::string& lines, std::vector<Bytes>* messages = nullptr,
                 const Status& store = Status::Ok()) {
  std::string replies;
  size_t start = 0;
  while (start < lines.size()) {
    size_t lf = lines.find('\n', start);
    if (lf == std::string::npos) lf = lines.size();
    SmtpSession::Step step = s.OnLine(std::string_view(lines).substr(start, lf - start));
    replies += step.reply;
    if (step.message_ready) {
      if (messages) messages->push_back(s.TakeMessage());
      replies += s.Finish(store);
    }
    start = lf + 1;
    if (step.close) break;
  }
  return replies;
}

TEST(SmtpSession, LmtpAnswersEveryRecipientAfterTheMessageIsStored) {
  SmtpSession s(MailProtocol::kLmtp, "arc.test");
  EXPECT_EQ(s.Greeting(), "220 arc.test LMTP tessera archive ready\r\n");
  std::vector<Bytes> messages;
  std::string replies =
      Talk(s,
           "LHLO mta.test\n"
           "MAIL FROM:<sender@a.gov.tw> SIZE=100 BODY=8BITMIME\n"
           "RCPT TO:<journal@archive.invalid> ORCPT=rfc822;journal@archive.invalid\n"
           "RCPT TO:<second@b.gov.tw>\n"
           "DATA\n"
           "Subject: hi\n"
           "\n"
           "..leading dot\n"
           ".\n"
           "QUIT",
           &messages);
  EXPECT_NE(replies.find("250-arc.test\r\n250-PIPELINING\r\n"), std::string::npos) << replies;
  EXPECT_NE(replies.find("354 "), std::string::npos);
  EXPECT_NE(replies.find("250 2.1.5 <journal@archive.invalid> archived\r\n"
                         "250 2.1.5 <second@b.gov.tw> archived\r\n"),
            std::string::npos)
      << replies;
  EXPECT_NE(replies.find("221 2.0.0"), std::string::npos);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(AsString(messages[0]), "Subject: hi\r\n\r\n.leading dot\r\n");
}

TEST(SmtpSession, TheEnvelopeIsWhatTheClientSaid) {
  SmtpSession s(MailProtocol::kSmtp, "arc.test");
  Talk(s, "EHLO mta.test\nMAIL FROM:<>\nRCPT TO: <a@b>\nRCPT TO:<@relay.example:c@d>\nDATA\nx");
  EXPECT_TRUE(s.in_data());
  EXPECT_EQ(s.envelope().helo, "mta.test");
  EXPECT_EQ(s.envelope().from, "");
  EXPECT_EQ(s.envelope().recipients, (std::vector<std::string>{"a@b", "c@d"}));
}

TEST(SmtpSession, AFailedStoreAsksTheSenderToTryAgain) {
  SmtpSession s(MailProtocol::kLmtp, "arc.test");
  std::string replies =
      Talk(s, "LHLO m\nMAIL FROM:<a@b>\nRCPT TO:<x@y>\nRCPT TO:<z@y>\nDATA\nbody\n.\n", nullptr,
           Status::IOError("disk full"));
  EXPECT_EQ(std::count(replies.begin(), replies.end(), '\n'), 6 + 1 + 2 + 1 + 2) << replies;
  size_t first = replies.find("451 4.3.0");
  ASSERT_NE(first, std::string::npos) << replies;
  EXPECT_NE(replies.find("451 4.3.0", first + 1), std::string::npos) << "one reply per recipient";
  EXPECT_EQ(replies.find("disk full"), std::string::npos) << "no internals in replies";
  // The session goes on: the next transaction is accepted.
  EXPECT_EQ(Talk(s, "MAIL FROM:<a@b>"), "250 2.1.0 Ok\r\n");
}

TEST(SmtpSession, CommandsOutOfOrderAreRefused) {
  SmtpSession s(MailProtocol::kSmtp, "arc.test");
  EXPECT_EQ(Talk(s, "MAIL FROM:<a@b>").substr(0, 3), "503");
  EXPECT_EQ(Talk(s, "LHLO x").substr(0, 3), "500") << "LHLO is LMTP's";
  EXPECT_EQ(Talk(s, "EHLO").substr(0, 3), "501");
  EXPECT_EQ(Talk(s, "HELO x"), "250 arc.test\r\n");
  EXPECT_EQ(Talk(s, "RCPT TO:<a@b>").substr(0, 3), "503");
  EXPECT_EQ(Talk(s, "DATA").substr(0, 3), "503");
  EXPECT_EQ(Talk(s, "MAIL FROM:<a@b>").substr(0, 3), "250");
  EXPECT_EQ(Talk(s, "MAIL FROM:<a@b>").substr(0, 3), "503") << "nested MAIL";
  EXPECT_EQ(Talk(s, "DATA").substr(0, 3), "503") << "DATA needs a recipient";
  EXPECT_EQ(Talk(s, "RCPT TO:<>").substr(0, 3), "501");
  EXPECT_EQ(Talk(s, "RCPT TO:<a b@c>").substr(0, 3), "501");
  EXPECT_EQ(Talk(s, "STARTTLS").substr(0, 3), "502");
  EXPECT_EQ(Talk(s, "FROB").substr(0, 3), "500");
  EXPECT_EQ(Talk(s, "RSET").substr(0, 3), "250");
  EXPECT_EQ(Talk(s, "RCPT TO:<a@b>").substr(0, 3), "503") << "RSET ended the transaction";
  SmtpSession lmtp(MailProtocol::kLmtp, "arc.test");
  EXPECT_EQ(Talk(lmtp, "EHLO x").substr(0, 3), "500") << "EHLO is SMTP's";
}

TEST(SmtpSession, TooManyErrorsCloseTheSession) {
  SessionLimits limits;
  limits.max_errors = 3;
  SmtpSession s(MailProtocol::kSmtp, "arc.test", limits);
  Talk(s, "A\nB");
  SmtpSession::Step step = s.OnLine("C");
  EXPECT_TRUE(step.close);
  EXPECT_EQ(step.reply.substr(0, 3), "421");
  EXPECT_TRUE(s.OnLine("NOOP").close);
}

TEST(SmtpSession, AnOversizedMessageIsReadToItsEndAndRefused) {
  SessionLimits limits;
  limits.max_message_bytes = 100;
  SmtpSession s(MailProtocol::kSmtp, "arc.test", limits);
  Talk(s, "EHLO x");
  EXPECT_EQ(Talk(s, "MAIL FROM:<a@b> SIZE=101").substr(0, 9), "552 5.3.4") << "declared too big";
  std::string replies = Talk(s, "MAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\n" + std::string(60, 'x') +
                                    "\n" + std::string(60, 'y') + "\n.\nNOOP");
  EXPECT_NE(replies.find("552 5.3.4"), std::string::npos) << replies;
  EXPECT_NE(replies.find("250 2.0.0 Ok\r\n"), std::string::npos) << "the session goes on";
}

TEST(SmtpSession, LongLinesArriveInPieces) {
  SmtpSession s(MailProtocol::kSmtp, "arc.test");
  Talk(s, "EHLO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA");
  // A piece that starts with a dot, inside a line, is not the end of the message.
  EXPECT_FALSE(s.OnLine("abc", true).message_ready);
  EXPECT_FALSE(s.OnLine(".", true).message_ready);
  EXPECT_FALSE(s.OnLine("def", false).message_ready);
  EXPECT_FALSE(s.OnLine("..x", false).message_ready);
  ASSERT_TRUE(s.OnLine(".", false).message_ready);
  EXPECT_EQ(AsString(s.TakeMessage()), "abc.def\r\n.x\r\n");
  s.Finish(Status::Ok());
  // A command line in pieces is refused once, at its end.
  EXPECT_EQ(s.OnLine(std::string(5000, 'A'), true).reply, "");
  EXPECT_EQ(s.OnLine("B", false).reply.substr(0, 3), "500");
  EXPECT_EQ(s.OnLine("NOOP").reply.substr(0, 3), "250");
}

TEST(SmtpSession, ParseMailPath) {
  EXPECT_EQ(*ParseMailPath("<a@b> SIZE=3"), "a@b");
  EXPECT_EQ(*ParseMailPath(" a@b"), "a@b");
  EXPECT_EQ(*ParseMailPath("<>"), "");
  EXPECT_EQ(*ParseMailPath("<用戶@機關.gov.tw>"), "用戶@機關.gov.tw");
  EXPECT_FALSE(ParseMailPath("<a@b").ok());
  EXPECT_FALSE(ParseMailPath("<@x>").ok());
  EXPECT_FALSE(ParseMailPath(std::string("<a\0b>", 5)).ok());
}

TEST(Journal, RecipientsComeFromTheFieldsThatOpenTheHeader) {
  MailEnvelope envelope;
  envelope.recipients = {"journal@archive.invalid"};
  JournalOptions options;
  const std::string mail =
      "X-Envelope-To: to@a.gov.tw\r\n"
      "x-envelope-to: <bcc@b.gov.tw>\r\n"
      "X-Envelope-To: to@a.gov.tw\r\n"
      "Received: from x\r\n"
      "X-Envelope-To: forged@evil.example\r\n"
      "Subject: s\r\n\r\nX-Envelope-To: body@evil.example\r\n";
  EXPECT_EQ(JournalRecipients(AsBytes(mail), envelope, options),
            (std::vector<std::string>{"to@a.gov.tw", "bcc@b.gov.tw"}));
  // Without such fields at the top, the envelope is the truth.
  const std::string plain = "Subject: s\r\nX-Envelope-To: forged@evil.example\r\n\r\nbody";
  EXPECT_EQ(JournalRecipients(AsBytes(plain), envelope, options), envelope.recipients);
  options.recipients_header = "";
  EXPECT_EQ(JournalRecipients(AsBytes(mail), envelope, options), envelope.recipients);
}

// A blocking client for the listener tests.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) {
    ASSERT_EQ(::send(fd_, s.data(), s.size(), 0), ssize_t(s.size()));
  }
  // Reads until `lines` reply lines (or the connection closes) have arrived.
  std::string Read(int lines) {
    std::string got;
    while (std::count(got.begin(), got.end(), '\n') < lines) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

struct Received {
  MailEnvelope envelope;
  MailProtocol protocol;
  Bytes message;
};

class ListenerTest : public ::testing::Test {
 protected:
  void Start(std::vector<MailListenerConfig> configs) {
    auto server = MailServer::Bind(
        configs, [this](const MailEnvelope& e, MailProtocol p, const std::string&, Bytes m) {
          std::lock_guard lock(mu_);
          if (fail_) return Status::IOError("disk full");
          received_.push_back({e, p, std::move(m)});
          return Status::Ok();
        });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    thread_ = std::thread([this] { (void)server_->Run(false); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  std::mutex mu_;
  bool fail_ = false;
  std::vector<Received> received_;
  std::unique_ptr<MailServer> server_;
  std::thread thread_;
};

TEST_F(ListenerTest, PipelinedLmtpAndSmtpOnTheirOwnPorts) {
  MailListenerConfig lmtp, smtp;
  lmtp.protocol = MailProtocol::kLmtp;
  smtp.protocol = MailProtocol::kSmtp;
  lmtp.hostname = smtp.hostname = "arc.test";
  Start({lmtp, smtp});
  const std::vector<uint16_t> ports = server_->ports();
  ASSERT_EQ(ports.size(), 2u);
  ASSERT_NE(ports[0], 0);

  Client c(ports[0]);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Read(1), "220 arc.test LMTP tessera archive ready\r\n");
  // Everything at once, with bare LF line ends in the body, as a pipelining client may.
  c.Send("LHLO m\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\nDATA\r\n");
  std::string replies = c.Read(6 + 3);
  EXPECT_NE(replies.find("354 "), std::string::npos) << replies;
  c.Send("Subject: 公文\r\n\r\nline\n.\r\n");
  replies = c.Read(2);
  EXPECT_EQ(replies, "250 2.1.5 <x@y> archived\r\n250 2.1.5 <z@y> archived\r\n");
  c.Send("QUIT\r\n");
  EXPECT_EQ(c.Read(1).substr(0, 3), "221");

  Client s(ports[1]);
  EXPECT_EQ(s.Read(1).substr(0, 24), "220 arc.test ESMTP tesse");
  s.Send("EHLO m\r\nMAIL FROM:<>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
  s.Read(6 + 3);
  // A body bigger than one read, to cross the reader's block boundaries.
  std::string body(100000, 'b');
  for (size_t i = 70; i < body.size(); i += 71) body[i] = '\n';
  s.Send("Subject: big\r\n\r\n" + body + "\r\n.\r\n");
  EXPECT_EQ(s.Read(1), "250 2.0.0 Ok: archived\r\n");

  std::lock_guard lock(mu_);
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0].protocol, MailProtocol::kLmtp);
  EXPECT_EQ(received_[0].envelope.recipients, (std::vector<std::string>{"x@y", "z@y"}));
  EXPECT_EQ(AsString(received_[0].message), "Subject: 公文\r\n\r\nline\r\n");
  EXPECT_EQ(received_[1].protocol, MailProtocol::kSmtp);
  // Bare LF line ends become CRLF.
  const size_t lines = static_cast<size_t>(std::count(body.begin(), body.end(), '\n'));
  EXPECT_EQ(received_[1].message.size(), 16 + body.size() + lines + 2);
}

TEST_F(ListenerTest, NothingIsAcknowledgedThatWasNotStored) {
  MailListenerConfig lmtp;
  Start({lmtp});
  fail_ = true;
  Client c(server_->ports()[0]);
  c.Read(1);
  c.Send("LHLO m\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\nSubject: s\r\n\r\nb\r\n.\r\n");
  std::string replies = c.Read(6 + 3 + 1);
  EXPECT_NE(replies.find("451 4.3.0"), std::string::npos) << replies;
  EXPECT_EQ(replies.find("archived"), std::string::npos) << replies;
}

TEST_F(ListenerTest, AnIdleConnectionIsClosed) {
  MailListenerConfig lmtp;
  lmtp.idle_timeout = std::chrono::seconds(1);
  Start({lmtp});
  Client c(server_->ports()[0]);
  c.Read(1);
  // Read returns when the server closes the connection.
  EXPECT_EQ(c.Read(1), "");
}

TEST(MailServer, AnAddressInUseIsAClearError) {
  auto first = MailServer::Bind({MailListenerConfig{}}, nullptr);
  ASSERT_TRUE(first.ok());
  MailListenerConfig taken;
  taken.port = (*first)->ports()[0];
  auto second = MailServer::Bind({taken}, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(taken.port)),
            std::string::npos);
  MailListenerConfig bad;
  bad.address = "not-an-ip";
  EXPECT_EQ(MailServer::Bind({bad}, nullptr).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ListenerTest, ArchivedMailIsRedeliveredWithoutItsBccFields) {
  MailListenerConfig smtp;
  smtp.protocol = MailProtocol::kSmtp;
  Start({smtp});
  std::string tmpl = (std::filesystem::temp_directory_path() / "tessera-redeliver-XXXXXX").string();
  const std::filesystem::path dir = ::mkdtemp(tmpl.data());
  {
    auto store = MessageStore::Open(dir);
    ASSERT_TRUE(store.ok());
    MailEnvelope journal;
    journal.from = "clerk@ntbt.gov.tw";
    journal.recipients = {"journal@archive.invalid"};
    const std::string raw =
        "X-Envelope-To: chief@gov.tw\r\nX-Envelope-To: secret@gov.tw\r\n"
        "From: clerk@ntbt.gov.tw\r\nTo: chief@gov.tw\r\nSubject: 公文\r\n\r\n.dot line\r\nend\r\n";
    ASSERT_TRUE(
        ArchiveJournaled(**store, journal, MailProtocol::kLmtp, "127.0.0.1:1", AsBytes(raw), {})
            .ok());

    RedeliverOptions o;
    ASSERT_TRUE(ParseSmtpUrl("smtp://127.0.0.1:" + std::to_string(server_->ports()[0])).ok());
    o.relay = *ParseSmtpUrl("smtp://127.0.0.1:" + std::to_string(server_->ports()[0]));
    o.from = "archive@ntbt.gov.tw";
    o.now = 1700000000;
    auto results = Redeliver(**store, {1}, o);
    ASSERT_TRUE(results.ok()) << results.status().ToString();
    ASSERT_EQ(results->size(), 1u);
    EXPECT_TRUE((*results)[0].status.ok()) << (*results)[0].status.ToString();
    // To the original recipients, Bcc included, by default.
    EXPECT_EQ((*results)[0].recipients,
              (std::vector<std::string>{"chief@gov.tw", "secret@gov.tw"}));

    o.to = {"other@gov.tw"};
    results = Redeliver(**store, {1}, o);
    ASSERT_TRUE(results.ok());
    EXPECT_TRUE((*results)[0].status.ok());

    // A relay that is not there is an error for that message, not a crash.
    o.relay.port = 1;
    results = Redeliver(**store, {1}, o);
    ASSERT_TRUE(results.ok());
    EXPECT_EQ((*results)[0].status.code(), StatusCode::kUnavailable);
    EXPECT_EQ(Redeliver(**store, {99}, o).status().code(), StatusCode::kNotFound);
  }
  std::filesystem::remove_all(dir);

  std::lock_guard lock(mu_);
  ASSERT_EQ(received_.size(), 2u);
  const std::string sent = std::string(AsString(received_[0].message));
  EXPECT_EQ(received_[0].envelope.from, "archive@ntbt.gov.tw");
  EXPECT_EQ(received_[0].envelope.recipients,
            (std::vector<std::string>{"chief@gov.tw", "secret@gov.tw"}));
  EXPECT_EQ(sent.rfind("Resent-Date: ", 0), 0u) << sent;
  EXPECT_NE(sent.find("Resent-To: chief@gov.tw, secret@gov.tw\r\n"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("X-Envelope-To"), std::string::npos) << "the Bcc fields stay in the archive";
  EXPECT_NE(sent.find("\r\n\r\n.dot line\r\nend\r\n"), std::string::npos) << "dot-stuffing undone";
  EXPECT_EQ(received_[1].envelope.recipients, (std::vector<std::string>{"other@gov.tw"}));
}

TEST_F(ListenerTest, AMessageInPiecesIsRedeliveredByteForByteAndADamagedOneNotAtAll) {
  MailListenerConfig smtp;
  smtp.protocol = MailProtocol::kSmtp;
  Start({smtp});
  std::string tmpl = (std::filesystem::temp_directory_path() / "tessera-redeliver-XXXXXX").string();
  const std::filesystem::path dir = ::mkdtemp(tmpl.data());
  // "\r\n." cut across three piece boundaries at every place: "\r" | "\n.", "\r\n" | ".",
  // "\r\n." | "dot"; the journal's Bcc fields on top.
  const std::string fields = "X-Envelope-To: chief@gov.tw\r\nX-Envelope-To: secret@gov.tw\r\n";
  const std::string raw = piece_test::MessageAcrossPieces(4, "\r\n.dot\r\n..two\r\n", fields);
  const std::string stripped = raw.substr(fields.size());
  {
    auto store = MessageStore::Open(dir);
    ASSERT_TRUE(store.ok());
    const int64_t id = piece_test::AddInPieces(**store, raw);
    RedeliverOptions o;
    o.relay = *ParseSmtpUrl("smtp://127.0.0.1:" + std::to_string(server_->ports()[0]));
    o.from = "archive@ntbt.gov.tw";
    o.to = {"other@gov.tw"};
    o.now = 1700000000;
    auto results = Redeliver(**store, {id}, o);
    ASSERT_TRUE(results.ok()) << results.status().ToString();
    EXPECT_TRUE((*results)[0].status.ok()) << (*results)[0].status.ToString();

    // Damaged in its last piece: most of it was sent before the damage was found, but the
    // DATA never ends, so the relay delivers nothing.
    const Bytes good = piece_test::DamageLastPiece(**store, dir, id);
    auto damaged = Redeliver(**store, {id}, o);
    EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption) << damaged.status().ToString();
    piece_test::PutBack(**store, dir, id, good);
    results = Redeliver(**store, {id}, o);
    ASSERT_TRUE(results.ok()) << results.status().ToString();
    EXPECT_TRUE((*results)[0].status.ok()) << (*results)[0].status.ToString();
  }
  std::filesystem::remove_all(dir);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a late delivery would show

  std::lock_guard lock(mu_);
  ASSERT_EQ(received_.size(), 2u) << "the damaged message must not be delivered";
  for (const Received& r : received_) {
    const std::string sent(AsString(r.message));
    ASSERT_GT(sent.size(), stripped.size());
    EXPECT_TRUE(sent.ends_with(stripped)) << "the message as archived, without the Bcc fields";
    const std::string resent = sent.substr(0, sent.size() - stripped.size());
    EXPECT_EQ(resent.rfind("Resent-Date: ", 0), 0u) << resent;
    EXPECT_EQ(std::count(resent.begin(), resent.end(), '\n'), 4) << resent;
    EXPECT_NE(resent.find("\r\nResent-To: other@gov.tw\r\n"), std::string::npos) << resent;
  }
}

TEST(SmtpData, EncodedTheSameWhereverTheMessageIsCut) {
  const std::string raw = ".a\r\n..b\nc\r\r\n\r.d\r\n.\r\nend\r";
  auto encode = [](const std::vector<std::string_view>& pieces) {
    std::string out;
    SmtpDataEncoder e([&](std::string_view b) {
      out += b;
      return Status::Ok();
    });
    for (std::string_view p : pieces) EXPECT_TRUE(e.Write(AsBytes(p)).ok());
    EXPECT_TRUE(e.Finish().ok());
    return out;
  };
  const std::string whole = encode({raw});
  EXPECT_EQ(whole, "..a\r\n...b\r\nc\r\r\n\r.d\r\n..\r\nend\r\n.\r\n");
  const std::string_view text = raw;
  for (size_t i = 0; i <= raw.size(); ++i)
    for (size_t j = i; j <= raw.size(); ++j)
      ASSERT_EQ(encode({text.substr(0, i), text.substr(i, j - i), text.substr(j)}), whole)
          << "cut at " << i << " and " << j;
  EXPECT_EQ(encode({}), ".\r\n");
  EXPECT_EQ(encode({"a\n"}), "a\r\n.\r\n");
}

TEST(Redelivery, TheJournalFieldsGoWhereverTheMessageIsCut) {
  const std::string raw =
      "x-envelope-to: a@b\r\n\tfold@c\r\nX-Envelope-To: d@e\r\nX-Envelope-Toz: keep\r\n"
      "Subject: s\r\n\r\nX-Envelope-To: body\r\n";
  auto rewrite = [](const std::vector<std::string_view>& pieces) {
    std::string out;
    RedeliveryWriter w("Resent-From: <r@x>\r\n", "X-Envelope-To", [&](ByteView b) {
      out += AsString(b);
      return Status::Ok();
    });
    for (std::string_view p : pieces) EXPECT_TRUE(w.Write(AsBytes(p)).ok());
    EXPECT_TRUE(w.Finish().ok());
    return out;
  };
  const std::string whole = rewrite({raw});
  EXPECT_EQ(whole,
            "Resent-From: <r@x>\r\nX-Envelope-Toz: keep\r\nSubject: s\r\n\r\n"
            "X-Envelope-To: body\r\n");
  const std::string_view text = raw;
  for (size_t i = 0; i <= raw.size(); ++i)
    for (size_t j = i; j <= raw.size(); ++j)
      ASSERT_EQ(rewrite({text.substr(0, i), text.substr(i, j - i), text.substr(j)}), whole)
          << "cut at " << i << " and " << j;
  EXPECT_EQ(rewrite({"X-Envelope-To: a\r\n"}), "Resent-From: <r@x>\r\n");
  EXPECT_EQ(rewrite({"X-Env"}), "Resent-From: <r@x>\r\nX-Env");
  EXPECT_EQ(rewrite({}), "Resent-From: <r@x>\r\n");
}

TEST(SmtpUrl, Parse) {
  EXPECT_EQ(ParseSmtpUrl("smtp://mail.gov.tw")->port, 25);
  EXPECT_EQ(ParseSmtpUrl("smtp://10.0.0.1:2525")->host, "10.0.0.1");
  EXPECT_EQ(ParseSmtpUrl("smtp://[::1]:26")->host, "::1");
  EXPECT_FALSE(ParseSmtpUrl("http://x").ok());
  EXPECT_FALSE(ParseSmtpUrl("smtp://x:0").ok());
  EXPECT_FALSE(ParseSmtpUrl("smtp://").ok());
}

}  // namespace
}  // namespace tessera::archive
