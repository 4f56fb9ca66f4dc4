// The RFC 5424 / RFC 5425 form of shipped audit records, and the shipper's cursor when the
// collector cannot be reached (tests/integration/guard_syslog.sh ships to a real rsyslogd).
#include "guard/syslog_shipper.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>

namespace tessera::guard {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kBom = "\xEF\xBB\xBF";

ShippedRecord Record(int64_t seq, std::string actor, std::string action, std::string target,
                     std::string outcome) {
  ShippedRecord r;
  r.record = {seq,
              1764755353 /* 2025-12-03T09:49:13Z */,
              std::move(actor),
              std::move(action),
              std::move(target),
              std::move(outcome)};
  r.link = std::string(64, 'a');
  return r;
}

SyslogFormat Format() {
  SyslogFormat f;
  f.hostname = "exchange1.ntbt.gov.tw";
  return f;
}

TEST(SyslogFormatTest, HeaderFields) {
  const std::string m = FormatRfc5424(
      Record(41, "alice (uid 1000)", "archive.search", "國稅局", "12 matches"), Format());
  std::istringstream in(m);
  std::string pri_version, timestamp, host, app, procid, msgid;
  in >> pri_version >> timestamp >> host >> app >> procid >> msgid;
  EXPECT_EQ(pri_version, "<166>1");  // local4 (20) * 8 + informational (6)
  EXPECT_EQ(timestamp, "2025-12-03T09:49:13Z");
  EXPECT_EQ(host, "exchange1.ntbt.gov.tw");
  EXPECT_EQ(app, "tessera");
  EXPECT_EQ(procid, "-");
  EXPECT_EQ(msgid, "archive.search");
  const std::string sd = "[tessera@32473 seq=\"41\" link=\"" + std::string(64, 'a') +
                         "\" actor=\"alice (uid 1000)\"][meta sequenceId=\"41\"]";
  EXPECT_THAT(m, HasSubstr(" archive.search " + sd + " " + kBom + "國稅局: 12 matches"));
  EXPECT_EQ(m.back(), 's');  // no trailing newline: octet counting frames it
}

TEST(SyslogFormatTest, FacilitySeverityAndSdIdAreConfigurable) {
  SyslogFormat f = Format();
  f.facility = *ParseFacility("auth");
  f.sd_id = "ntbt@99999";
  const std::string m =
      FormatRfc5424(Record(7, "bob", "exchange.accept", "doc-1", "denied: not registered"), f);
  EXPECT_THAT(m, StartsWith("<36>1 "));  // auth (4) * 8 + warning (4)
  EXPECT_THAT(m, HasSubstr("[ntbt@99999 seq=\"7\" "));
}

TEST(SyslogFormatTest, SeverityFollowsTheAction) {
  EXPECT_EQ(SeverityOf({1, 0, "a", "exchange.scan", "doc", "infected: Win.Test.EICAR"}), 1);
  EXPECT_EQ(SeverityOf({1, 0, "a", "exchange.malware", "doc", "quarantined"}), 1);
  EXPECT_EQ(SeverityOf({1, 0, "a", "archive.show", "12", "denied: not alice's mail"}), 4);
  EXPECT_EQ(SeverityOf({1, 0, "a", "exchange.suspend", "agency", "done"}), 4);
  EXPECT_EQ(SeverityOf({1, 0, "a", "archive.restore", "12", "failed: no route"}), 3);
  EXPECT_EQ(SeverityOf({1, 0, "a", "archive.retention.destroy", "12", "done"}), 5);
  EXPECT_EQ(SeverityOf({1, 0, "a", "archive.search", "q", "3 matches"}), 6);
}

TEST(SyslogFormatTest, EscapesSdParams) {
  EXPECT_EQ(EscapeSdParam(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
  EXPECT_EQ(EscapeSdParam("[x] 鄭"), "[x\\] 鄭");
  const std::string m =
      FormatRfc5424(Record(3, R"(eve "x\y]" )", "archive.search", "", "0 matches"), Format());
  EXPECT_THAT(m, HasSubstr(R"( actor="eve \"x\\y\]\" "][meta sequenceId="3"])"));
  // No target: MSG is the outcome alone.
  EXPECT_THAT(m, HasSubstr("] " + kBom + "0 matches"));
}

TEST(SyslogFormatTest, ChineseTextIsUtf8AfterTheBom) {
  const std::string m = FormatRfc5424(
      Record(5, "鄭 (uid 1001)", "exchange.accept", "公文 第123號", "已接收"), Format());
  const size_t bom = m.find(kBom);
  ASSERT_NE(bom, std::string::npos);
  EXPECT_EQ(m.substr(bom), kBom + "公文 第123號: 已接收");
  EXPECT_THAT(m, HasSubstr("actor=\"鄭 (uid 1001)\""));
  // Bytes that are not UTF-8 (a Big5 name) are replaced, never sent as they are.
  const std::string big5 = "\xBE\x47";
  const std::string n = FormatRfc5424(Record(6, big5, "x", big5, "ok"), Format());
  EXPECT_EQ(n.find(big5), std::string::npos);
  EXPECT_THAT(n, HasSubstr("\xEF\xBF\xBD"));  // U+FFFD
}

TEST(SyslogFormatTest, LongFieldsAreCutOnACharacterBoundary) {
  std::string target;
  for (int i = 0; i < 1000; ++i) target += "公";  // 3,000 bytes
  const std::string m = FormatRfc5424(Record(8, "a", "x", target, "ok"), Format());
  const std::string msg = m.substr(m.find(kBom) + kBom.size());
  EXPECT_EQ(msg, target.substr(0, 1998) + "\xE2\x80\xA6: ok");  // 666 characters, then …
}

TEST(SyslogFormatTest, HeaderFieldsAreKeptPrintableAscii) {
  SyslogFormat f = Format();
  f.hostname = "host with space";
  const std::string m = FormatRfc5424(Record(9, "a", "查詢 search", "", "ok"), f);
  std::istringstream in(m);
  std::string pri, ts, host, app, procid, msgid;
  in >> pri >> ts >> host >> app >> procid >> msgid;
  EXPECT_EQ(host, "host_with_space");
  EXPECT_EQ(msgid, "_______search");  // 6 bytes of 查詢 and the space
}

TEST(SyslogFormatTest, SequenceIdWrapsAsRfc5424Says) {
  EXPECT_THAT(FormatRfc5424(Record(2147483647, "a", "x", "", "ok"), Format()),
              HasSubstr("[meta sequenceId=\"2147483647\"]"));
  EXPECT_THAT(FormatRfc5424(Record(2147483648, "a", "x", "", "ok"), Format()),
              HasSubstr("[meta sequenceId=\"1\"]"));
}

TEST(SyslogFormatTest, OctetCountingCountsBytes) {
  EXPECT_EQ(FrameOctetCounted("<165>1 - - - - - -"), "18 <165>1 - - - - - -");
  const std::string m = FormatRfc5424(Record(1, "鄭", "x", "公文", "ok"), Format());
  const std::string framed = FrameOctetCounted(m);
  EXPECT_EQ(framed, std::to_string(m.size()) + " " + m);
  EXPECT_GT(m.size(), std::string("<166>1 ").size() + 6);  // bytes, not characters
  EXPECT_EQ(FrameOctetCounted(""), "0 ");
}

TEST(SyslogOptionsTest, ParsesCollectorsAndFacilities) {
  SyslogTlsOptions o;
  ASSERT_TRUE(ParseCollector("soc.example.gov.tw:6515", o).ok());
  EXPECT_EQ(o.host, "soc.example.gov.tw");
  EXPECT_EQ(o.port, 6515);
  ASSERT_TRUE(ParseCollector("[::1]:7000", o).ok());
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 7000);
  ASSERT_TRUE(ParseCollector("10.0.0.5", o).ok());
  EXPECT_EQ(o.port, 6514);
  EXPECT_EQ(ParseCollector("host:0", o).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCollector("host:http", o).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCollector(":514", o).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseFacility("local4"), 20);
  EXPECT_EQ(*ParseFacility("AUTHPRIV"), 10);
  EXPECT_EQ(*ParseFacility("13"), 13);
  EXPECT_FALSE(ParseFacility("24").ok());
  EXPECT_FALSE(ParseFacility("local8").ok());
}

class SyslogShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tessera-syslog.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    tls_.host = "127.0.0.1";
    tls_.port = 1;  // nothing listens there
    tls_.ca_file = (dir_ / "ca.pem").string();
    tls_.timeout = std::chrono::milliseconds(2000);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  SyslogTlsOptions tls_;
};

TEST_F(SyslogShipperTest, RefusesABadSdIdOrAHalfClientCertificate) {
  SyslogFormat f;
  f.sd_id = "no at sign";
  EXPECT_EQ(SyslogShipper::Open(dir_, tls_, f).status().code(), StatusCode::kInvalidArgument);
  f.sd_id = "tessera@32473";
  SyslogTlsOptions t = tls_;
  t.cert_file = "client.pem";
  EXPECT_EQ(SyslogShipper::Open(dir_, t, f).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SyslogShipperTest, CollectorDownKeepsTheRecordsPending) {
  auto shipper = SyslogShipper::Open(dir_, tls_, SyslogFormat{});
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  EXPECT_EQ((*shipper)->destination(), "127.0.0.1:1");
  // Nothing pending: nothing to connect for, not an error (the CA file is not read).
  auto r = (*shipper)->ShipOnce();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->sent, 0u);
  {
    auto log = AuditLog::Open(dir_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->Append("alice", "archive.search", "公文", "1 match").ok());
    ASSERT_TRUE((*log)->Append("alice", "archive.show", "12", "shown").ok());
  }
  r = (*shipper)->ShipOnce();  // the CA file does not exist
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("--ca"));

  SyslogTlsOptions t = tls_;
  t.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  shipper = SyslogShipper::Open(dir_, t, SyslogFormat{});
  ASSERT_TRUE(shipper.ok()) << shipper.status().ToString();
  r = (*shipper)->ShipOnce();  // nothing listens
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("wait in the audit log"));
  int64_t head = 0;
  auto cursors = SyslogShipper::Cursors(dir_, &head);
  ASSERT_TRUE(cursors.ok()) << cursors.status().ToString();
  EXPECT_EQ(head, 2);
  EXPECT_TRUE(cursors->empty());  // never shipped: both records still pending

  ASSERT_TRUE((*shipper)->Rewind(1).ok());
  cursors = SyslogShipper::Cursors(dir_, &head);
  ASSERT_TRUE(cursors.ok());
  ASSERT_EQ(cursors->size(), 1u);
  EXPECT_EQ((*cursors)[0].destination, "127.0.0.1:1");
  EXPECT_EQ((*cursors)[0].seq, 1);
}

}  // namespace
}  // namespace tessera::guard
