#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "base/clock.hpp"
#include "store/faulty_store.hpp"
#include "store/file_store.hpp"
#include "store/names.hpp"
#include "store/object_store.hpp"
#include "store/s3_sigv4.hpp"
#include "store/s3_store.hpp"

namespace tessera::store {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("tessera-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<ObjectStore> OpenFile(const fs::path& root) {
  auto s = OpenStore("file://" + root.string());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

std::vector<std::string> Names(const std::vector<ObjectInfo>& v) {
  std::vector<std::string> out;
  for (const auto& o : v) out.push_back(o.name);
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------- names

TEST(ObjectNames, ValidAndInvalid) {
  for (const char* ok : {"a", "data/3f/3fa2", "with space", "a+b=c", "ünïcødé/名前", "a.b", "...",
                         ".hidden", "x/y.tmp"}) {
    EXPECT_TRUE(ValidateObjectName(ok).ok()) << ok;
  }
  for (std::string bad :
       std::vector<std::string>{"", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", "../a",
                                "a/..", std::string("a\0b", 3), "a\nb", "\x7f", "\xff", "\xc3",
                                "\xed\xa0\x80", std::string(1025, 'x')}) {
    Status st = ValidateObjectName(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ValidateListPrefix("").ok());
  EXPECT_TRUE(ValidateListPrefix("data/").ok());
  EXPECT_TRUE(ValidateListPrefix("data/3").ok());
  EXPECT_FALSE(ValidateListPrefix("/data").ok());
  EXPECT_FALSE(ValidateListPrefix("../").ok());
  EXPECT_FALSE(ValidateListPrefix("a/..").ok());
  EXPECT_FALSE(ValidateListPrefix("a//").ok());
}

TEST(ObjectNames, PercentDecode) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc+d").value(), "a b/c+d");
  EXPECT_FALSE(PercentDecode("%2").ok());
  EXPECT_FALSE(PercentDecode("%zz").ok());
}

// ---------------------------------------------------------------- file store

TEST(FileStore, PutGetOverwriteStatDelete) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  EXPECT_EQ(s->Url(), "file://" + dir.path().string());
  ASSERT_TRUE(s->Ping().ok());
  ASSERT_TRUE(s->Put("data/3f/obj", AsBytes("hello")).ok());
  EXPECT_EQ(s->Get("data/3f/obj").value(), ToBytes("hello"));
  EXPECT_EQ(s->Stat("data/3f/obj").value(), 5u);
  ASSERT_TRUE(s->Put("data/3f/obj", AsBytes("replaced!")).ok());
  EXPECT_EQ(s->Get("data/3f/obj").value(), ToBytes("replaced!"));
  EXPECT_EQ(s->Stat("data/3f/obj").value(), 9u);
  ASSERT_TRUE(s->Delete("data/3f/obj").ok());
  EXPECT_EQ(s->Get("data/3f/obj").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->Stat("data/3f/obj").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(s->Delete("data/3f/obj").ok());  // already gone: fine
  EXPECT_TRUE(s->Delete("never/existed").ok());
}

TEST(FileStore, MissingObjects) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  auto g = s->Get("nope");
  EXPECT_EQ(g.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(g.status().message(), "nope")) << g.status().message();
  EXPECT_EQ(s->Get("no/such/dir").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(s->Put("file", AsBytes("x")).ok());
  EXPECT_EQ(s->Get("file/below").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(s->Put("dir/x", AsBytes("x")).ok());
  EXPECT_EQ(s->Get("dir").status().code(), StatusCode::kNotFound);  // a directory
  EXPECT_EQ(s->Stat("dir").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(s->Delete("dir").ok());
  EXPECT_TRUE(s->Get("dir/x").ok());
}

TEST(FileStore, BinaryAndEmpty) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  Bytes bin(70000);
  std::mt19937 rng(1);
  for (auto& b : bin) b = static_cast<uint8_t>(rng());
  bin[0] = 0;
  ASSERT_TRUE(s->Put("bin", bin).ok());
  EXPECT_EQ(s->Get("bin").value(), bin);
  ASSERT_TRUE(s->Put("empty", ByteView()).ok());
  EXPECT_TRUE(s->Get("empty").value().empty());
  EXPECT_EQ(s->Stat("empty").value(), 0u);
}

TEST(FileStore, SpecialCharacterNames) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  std::vector<std::string> names = {"with space", "a+b=c", "ünïcødé/名前", "%41", "semi;colon"};
  for (const auto& n : names) ASSERT_TRUE(s->Put(n, AsBytes(n)).ok()) << n;
  for (const auto& n : names) EXPECT_EQ(s->Get(n).value(), ToBytes(n)) << n;
  auto all = s->List("").value();
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Names(all), sorted);
}

TEST(FileStore, ListWithPrefix) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  for (const char* n : {"b/c/d", "a/2", "ab", "a/1", "data/3f/x", "data/40/y", "data/3f/z", "a0"})
    ASSERT_TRUE(s->Put(n, AsBytes(n)).ok());
  auto all = s->List("").value();
  EXPECT_EQ(Names(all), (std::vector<std::string>{"a/1", "a/2", "a0", "ab", "b/c/d", "data/3f/x",
                                                  "data/3f/z", "data/40/y"}));
  EXPECT_EQ(all[4].size, 5u);
  EXPECT_EQ(Names(s->List("a").value()), (std::vector<std::string>{"a/1", "a/2", "a0", "ab"}));
  EXPECT_EQ(Names(s->List("a/").value()), (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ(Names(s->List("data/3").value()), (std::vector<std::string>{"data/3f/x", "data/3f/z"}));
  EXPECT_EQ(Names(s->List("data/3f/z").value()), (std::vector<std::string>{"data/3f/z"}));
  EXPECT_TRUE(s->List("zzz").value().empty());
  EXPECT_TRUE(s->List("nodir/").value().empty());
  EXPECT_TRUE(s->List("nodir/deeper/x").value().empty());
  EXPECT_EQ(s->List("../").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->List("/a").status().code(), StatusCode::kInvalidArgument);
}

// A directory cannot also be a file: "a" and "a/x" cannot both exist in a file store.
TEST(FileStore, NameThatIsAlsoADirectory) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  ASSERT_TRUE(s->Put("a/x", AsBytes("1")).ok());
  Status st = s->Put("a", AsBytes("2"));
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "\"a\"")) << st.message();
  ASSERT_TRUE(s->Put("b", AsBytes("1")).ok());
  EXPECT_FALSE(s->Put("b/x", AsBytes("2")).ok());
  EXPECT_EQ(s->Get("a/x").value(), ToBytes("1"));
}

TEST(FileStore, ListSkipsTemporaryFiles) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  ASSERT_TRUE(s->Put("data/obj", AsBytes("x")).ok());
  std::ofstream(dir.path() / "data" / "obj.tmp.1234.5678") << "partial";
  EXPECT_EQ(Names(s->List("").value()), (std::vector<std::string>{"data/obj"}));
  EXPECT_TRUE(FileStore::IsTempFileName("obj.tmp.1.2"));
  EXPECT_FALSE(FileStore::IsTempFileName("obj.tmp"));
  EXPECT_FALSE(FileStore::IsTempFileName("obj.tmp.x.2"));
  EXPECT_FALSE(FileStore::IsTempFileName("x.tmp.12"));
  EXPECT_EQ(s->Put("a/b.tmp.1.2", AsBytes("x")).code(), StatusCode::kInvalidArgument);
}

TEST(FileStore, BadNamesRejected) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  for (std::string bad :
       std::vector<std::string>{"", "/abs", "a/", "a//b", "..", "../escape", "a/../../b", ".",
                                "a\nb", std::string("nul\0", 4)}) {
    EXPECT_EQ(s->Put(bad, AsBytes("x")).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s->Get(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s->Stat(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s->Delete(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(fs::exists(dir.path().parent_path() / "escape"));
}

TEST(FileStore, MissingRootIsUnavailable) {
  TempDir dir;
  fs::path root = dir.path() / "not-mounted";
  auto s = OpenFile(root);
  Status ping = s->Ping();
  EXPECT_EQ(ping.code(), StatusCode::kUnavailable);
  EXPECT_EQ(ping.message(), "store file://" + root.string() + ": directory does not exist");
  EXPECT_EQ(s->Put("data/x", AsBytes("x")).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(fs::exists(root)) << "Put must not create the root";
  EXPECT_EQ(s->Get("x").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->Stat("x").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->List("").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->List("data/").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->Delete("x").code(), StatusCode::kUnavailable);
  ASSERT_TRUE(s->Create().ok());
  EXPECT_TRUE(s->Ping().ok());
  EXPECT_TRUE(s->Create().ok());  // idempotent
  EXPECT_TRUE(s->Put("data/x", AsBytes("x")).ok());
}

TEST(FileStore, RootThatIsAFile) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  auto s = OpenFile(dir.path() / "file");
  EXPECT_EQ(s->Ping().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(s->Create().ok());
}

TEST(FileStore, UrlParsing) {
  EXPECT_EQ(OpenStore("file:///tmp/x/").value()->Url(), "file:///tmp/x");
  EXPECT_EQ(OpenStore("file:///tmp//x/./y").value()->Url(), "file:///tmp/x/y");
  EXPECT_EQ(OpenStore("file:///").value()->Url(), "file:///");
  for (const char* bad : {"file://relative/path", "file:relative", "file://", "file:/x"}) {
    EXPECT_EQ(OpenStore(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto unknown = OpenStore("ftp://user:hunter2@host/x");
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Contains(unknown.status().message(), "hunter2"));
  EXPECT_TRUE(Contains(unknown.status().message(), "ftp"));
  EXPECT_EQ(OpenStore("/just/a/path").status().code(), StatusCode::kInvalidArgument);
}

TEST(FileStore, ConcurrentUse) {
  TempDir dir;
  auto s = OpenFile(dir.path());
  constexpr int kThreads = 8, kObjects = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kObjects; ++i) {
        std::string own = "t" + std::to_string(t) + "/" + std::to_string(i);
        std::string value(1000 + i, static_cast<char>('a' + t));
        if (!s->Put(own, AsBytes(value)).ok()) ++failures;
        auto got = s->Get(own);
        if (!got.ok() || *got != ToBytes(value)) ++failures;
        // Everyone overwrites the same objects: readers must see one whole version.
        std::string shared = "shared/" + std::to_string(i % 4);
        if (!s->Put(shared, AsBytes(value)).ok()) ++failures;
        auto sh = s->Get(shared);
        if (!sh.ok() || sh->size() < 1000 ||
            std::any_of(sh->begin(), sh->end(), [&](uint8_t c) { return c != (*sh)[0]; }))
          ++failures;
        auto listed = s->List("shared/");
        if (!listed.ok() || listed->size() > 4) ++failures;
        if (i % 3 == 0 && !s->Delete(own).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = s->List("").value();
  EXPECT_EQ(all.size(), size_t(kThreads * (kObjects - (kObjects + 2) / 3) + 4));
}

// ---------------------------------------------------------------- faulty store

class FaultyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner_ = std::shared_ptr<ObjectStore>(OpenFile(dir_.path()).release());
    faulty_ = std::make_unique<FaultyStore>(inner_);
  }
  TempDir dir_;
  std::shared_ptr<ObjectStore> inner_;
  std::unique_ptr<FaultyStore> faulty_;
};

TEST_F(FaultyStoreTest, PassesThrough) {
  FaultyStore& f = *faulty_;
  EXPECT_EQ(f.Url(), inner_->Url());
  ASSERT_TRUE(f.Put("a", AsBytes("1")).ok());
  EXPECT_EQ(f.Get("a").value(), ToBytes("1"));
  EXPECT_EQ(f.Stat("a").value(), 1u);
  EXPECT_EQ(f.List("").value().size(), 1u);
  EXPECT_TRUE(f.Ping().ok());
  EXPECT_TRUE(f.Create().ok());
  EXPECT_TRUE(f.Delete("a").ok());
  auto c = f.counts();
  EXPECT_EQ(c.put, 1u);
  EXPECT_EQ(c.get, 1u);
  EXPECT_EQ(c.stat, 1u);
  EXPECT_EQ(c.list, 1u);
  EXPECT_EQ(c.ping, 1u);
  EXPECT_EQ(c.create, 1u);
  EXPECT_EQ(c.del, 1u);
  EXPECT_EQ(c.total(), 7u);
  EXPECT_EQ(c.injected_failures, 0u);
  f.ResetCounts();
  EXPECT_EQ(f.counts().total(), 0u);
}

TEST_F(FaultyStoreTest, Unreachable) {
  FaultyStore& f = *faulty_;
  ASSERT_TRUE(f.Put("a", AsBytes("1")).ok());
  f.SetUnreachable(true);
  EXPECT_EQ(f.Put("b", AsBytes("2")).code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.Get("a").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.Stat("a").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.List("").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.Delete("a").code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.Ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.Create().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.counts().injected_failures, 7u);
  EXPECT_EQ(inner_->Stat("b").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(inner_->Get("a").ok()) << "the outage must not touch the inner store";
  f.SetUnreachable(false);
  EXPECT_EQ(f.Get("a").value(), ToBytes("1"));
}

TEST_F(FaultyStoreTest, FailPutsAfter) {
  FaultyStore& f = *faulty_;
  f.FailPutsAfter(2);
  EXPECT_TRUE(f.Put("1", AsBytes("x")).ok());
  EXPECT_TRUE(f.Put("2", AsBytes("x")).ok());
  EXPECT_EQ(f.Put("3", AsBytes("x")).code(), StatusCode::kIOError);
  EXPECT_EQ(f.Put("4", AsBytes("x")).code(), StatusCode::kIOError);
  EXPECT_EQ(inner_->Stat("3").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(f.Get("1").ok()) << "only Puts fail";
  EXPECT_EQ(f.counts().injected_failures, 2u);
  f.ClearFaults();
  EXPECT_TRUE(f.Put("3", AsBytes("x")).ok());
  f.FailPutsAfter(0);
  EXPECT_FALSE(f.Put("5", AsBytes("x")).ok());
}

TEST_F(FaultyStoreTest, FailPutsAfterIsExactUnderConcurrency) {
  FaultyStore& f = *faulty_;
  f.FailPutsAfter(25);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        if (f.Put("p/" + std::to_string(t) + "-" + std::to_string(i), AsBytes("x")).ok()) ++ok;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 25);
  EXPECT_EQ(inner_->List("p/").value().size(), 25u);
  EXPECT_EQ(f.counts().put, 80u);
}

TEST_F(FaultyStoreTest, CorruptGets) {
  FaultyStore& f = *faulty_;
  Bytes data = ToBytes("some precious bytes");
  ASSERT_TRUE(f.Put("data/x", data).ok());
  ASSERT_TRUE(f.Put("meta/y", data).ok());
  ASSERT_TRUE(f.Put("data/empty", ByteView()).ok());
  f.SetCorruptGets(true);
  Bytes bad = f.Get("data/x").value();
  ASSERT_EQ(bad.size(), data.size());
  size_t diffs = 0;
  for (size_t i = 0; i < data.size(); ++i) diffs += bad[i] != data[i];
  EXPECT_EQ(diffs, 1u);
  EXPECT_EQ(f.Get("data/empty").value().size(), 1u);
  EXPECT_EQ(inner_->Get("data/x").value(), data) << "the stored object stays intact";
  f.SetCorruptGets(true, "data/");
  EXPECT_NE(f.Get("data/x").value(), data);
  EXPECT_EQ(f.Get("meta/y").value(), data);
  f.SetCorruptGets(false);
  EXPECT_EQ(f.Get("data/x").value(), data);
  EXPECT_EQ(f.Get("missing").status().code(), StatusCode::kNotFound);
}

TEST_F(FaultyStoreTest, SwitchingWhileInUse) {
  FaultyStore& f = *faulty_;
  ASSERT_TRUE(f.Put("x", AsBytes("v")).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t) {
    users.emplace_back([&] {
      while (!stop) {
        auto r = f.Get("x");
        if (!r.ok() && r.status().code() != StatusCode::kUnavailable) ++unexpected;
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    f.SetUnreachable(i % 2 == 0);
    f.SetCorruptGets(i % 3 == 0, i % 2 ? "x" : "");
  }
  stop = true;
  for (auto& th : users) th.join();
  EXPECT_EQ(unexpected.load(), 0);
}

// ---------------------------------------------------------------- SigV4

constexpr const char* kAccess = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// "Example: GET Object".
TEST(SigV4, AwsDocumentationGetObjectExample) {
  sigv4::Request r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", std::string(sigv4::kEmptyPayloadSha256)},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_sha256 = sigv4::kEmptyPayloadSha256;
  auto s = sigv4::Sign(r, {kAccess, kSecret, "us-east-1", "s3"}, "20130524T000000Z");
  EXPECT_EQ(
      s.canonical_request,
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// Same page, "Example: PUT Object": a '$' in the key, a payload hash.
TEST(SigV4, AwsDocumentationPutObjectExample) {
  std::string body = "Welcome to Amazon S3.";
  std::string hash = sigv4::Sha256Hex(body);
  EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  sigv4::Request r;
  r.method = "PUT";
  r.canonical_uri = "/" + sigv4::UriEncode("test$file.text", true);
  EXPECT_EQ(r.canonical_uri, "/test%24file.text");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", hash}};
  r.payload_sha256 = hash;
  auto s = sigv4::Sign(r, {kAccess, kSecret, "us-east-1", "s3"}, "20130524T000000Z");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// Same page, "Example: GET Bucket (List Objects)": query parameters are sorted and encoded.
TEST(SigV4, AwsDocumentationListObjectsExample) {
  sigv4::Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.query = {{"prefix", "J"}, {"max-keys", "2"}};
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-content-sha256", std::string(sigv4::kEmptyPayloadSha256)}};
  r.payload_sha256 = sigv4::kEmptyPayloadSha256;
  auto s = sigv4::Sign(r, {kAccess, kSecret, "us-east-1", "s3"}, "20130524T000000Z");
  EXPECT_EQ(s.canonical_query, "max-keys=2&prefix=J");
  EXPECT_EQ(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, UriEncode) {
  EXPECT_EQ(sigv4::UriEncode("AZaz09-_.~", false), "AZaz09-_.~");
  EXPECT_EQ(sigv4::UriEncode("a b/c+d=e", true), "a%20b/c%2Bd%3De");
  EXPECT_EQ(sigv4::UriEncode("a b/c+d=e", false), "a%20b%2Fc%2Bd%3De");
  EXPECT_EQ(sigv4::UriEncode("é", false), "%C3%A9");
  EXPECT_EQ(sigv4::UriEncode("*", false), "%2A");
}

TEST(SigV4, CanonicalQueryAndHeaders) {
  EXPECT_EQ(sigv4::CanonicalQuery({{"prefix", "a b/c"}, {"list-type", "2"}, {"empty", ""}}),
            "empty=&list-type=2&prefix=a%20b%2Fc");
  sigv4::Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.headers = {{"X-Amz-Date", "20130524T000000Z"}, {"HOST", "  h   :  1  "}};
  r.payload_sha256 = sigv4::kEmptyPayloadSha256;
  auto s = sigv4::Sign(r, {"a", "b", "r", "s3"}, "20130524T000000Z");
  EXPECT_TRUE(Contains(s.canonical_request,
                       "\nhost:h : 1\nx-amz-date:20130524T000000Z\n\n"
                       "host;x-amz-date\n"))
      << s.canonical_request;
  EXPECT_EQ(sigv4::AmzDateNow().size(), 16u);
}

// ---------------------------------------------------------------- S3 URL and configuration

TEST(S3Url, Parse) {
  auto u = ParseS3Url("s3://bucket").value();
  EXPECT_EQ(u.bucket, "bucket");
  EXPECT_EQ(u.prefix, "");
  u = ParseS3Url("s3://bucket/").value();
  EXPECT_EQ(u.prefix, "");
  u = ParseS3Url("s3://my-bucket.x/backups/vault1/").value();
  EXPECT_EQ(u.bucket, "my-bucket.x");
  EXPECT_EQ(u.prefix, "backups/vault1");
  u = ParseS3Url("s3://b_1/p%20q?endpoint=http://127.0.0.1:7480&region=eu-west-1&profile=ceph")
          .value();
  EXPECT_EQ(u.prefix, "p q");
  EXPECT_EQ(u.endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(u.region, "eu-west-1");
  EXPECT_EQ(u.profile, "ceph");
  u = ParseS3Url("s3://bkt?endpoint=http%3A%2F%2Fhost%3A9000").value();
  EXPECT_EQ(u.endpoint, "http://host:9000");
}

TEST(S3Url, Rejects) {
  for (const char* bad :
       {"s3://", "s3://ab", "s3://bad bucket/x", "s3:/bucket", "file:///x", "s3://bucket/a//b",
        "s3://bucket/../x", "s3://bucket?nope=1", "s3://bucket?region=a&region=b",
        "s3://bucket?region=", "s3://bucket#frag", "s3://bucket?endpoint=%zz"}) {
    EXPECT_EQ(ParseS3Url(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto st = ParseS3Url("s3://bucket/p?secret_key=SUPERSECRET").status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Contains(st.message(), "SUPERSECRET")) << st.message();
  EXPECT_TRUE(Contains(st.message(), "profile")) << st.message();
  EXPECT_FALSE(ParseS3Url("s3://bucket?access_key=AK").ok());
}

TEST(S3Url, FormatRoundTrips) {
  for (const char* url :
       {"s3://bucket", "s3://bucket/a/b", "s3://bucket/p?endpoint=http://127.0.0.1:7480",
        "s3://bucket/p%20q%25?endpoint=http://h:1&region=us-east-1&profile=x"}) {
    auto u = ParseS3Url(url).value();
    EXPECT_EQ(FormatS3Url(u), url);
    auto again = ParseS3Url(FormatS3Url(u)).value();
    EXPECT_EQ(again.prefix, u.prefix);
    EXPECT_EQ(again.endpoint, u.endpoint);
  }
  EXPECT_EQ(FormatS3Url(ParseS3Url("s3://bucket/p/?profile=x&region=r").value()),
            "s3://bucket/p?region=r&profile=x");
}

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(S3Config, ResolutionOrder) {
  StoreOptions opt;
  opt.s3_profiles["p"] = {{"endpoint", "http://profile:1"},
                          {"region", "profile-region"},
                          {"access_key", "PROFILE_AK"},
                          {"secret_key", "PROFILE_SK"}};
  auto env = FakeEnv({{"TESSERA_S3_ENDPOINT", "http://env:2"},
                      {"AWS_DEFAULT_REGION", "env-region"},
                      {"AWS_REGION", "env-region-2"},
                      {"AWS_ACCESS_KEY_ID", "ENV_AK"},
                      {"AWS_SECRET_ACCESS_KEY", "ENV_SK"}});

  // Environment only.
  auto c = ResolveS3Config(ParseS3Url("s3://bucket").value(), {}, env).value();
  EXPECT_EQ(c.endpoint, "http://env:2");
  EXPECT_EQ(c.host, "env:2");
  EXPECT_EQ(c.region, "env-region");
  EXPECT_EQ(c.access_key, "ENV_AK");
  EXPECT_EQ(c.secret_key, "ENV_SK");

  // The profile beats the environment.
  c = ResolveS3Config(ParseS3Url("s3://bucket?profile=p").value(), opt, env).value();
  EXPECT_EQ(c.endpoint, "http://profile:1");
  EXPECT_EQ(c.region, "profile-region");
  EXPECT_EQ(c.access_key, "PROFILE_AK");
  EXPECT_EQ(c.secret_key, "PROFILE_SK");

  // The URL query beats the profile.
  c = ResolveS3Config(
          ParseS3Url("s3://bucket?profile=p&endpoint=http://url:3&region=url-r").value(), opt, env)
          .value();
  EXPECT_EQ(c.endpoint, "http://url:3");
  EXPECT_EQ(c.region, "url-r");

  // Options beat everything.
  opt.s3_endpoint = "https://opt:4/";
  opt.s3_region = "opt-r";
  opt.s3_access_key = "OPT_AK";
  opt.s3_secret_key = "OPT_SK";
  opt.retries = 1;
  opt.timeout_seconds = 3;
  c = ResolveS3Config(
          ParseS3Url("s3://bucket?profile=p&endpoint=http://url:3&region=url-r").value(), opt, env)
          .value();
  EXPECT_EQ(c.endpoint, "https://opt:4");
  EXPECT_EQ(c.host, "opt:4");
  EXPECT_EQ(c.region, "opt-r");
  EXPECT_EQ(c.access_key, "OPT_AK");
  EXPECT_EQ(c.secret_key, "OPT_SK");
  EXPECT_EQ(c.retries, 1);
  EXPECT_EQ(c.timeout_seconds, 3);

  // AWS_REGION when AWS_DEFAULT_REGION is unset; defaults last.
  c = ResolveS3Config(
          ParseS3Url("s3://bucket").value(), {},
          FakeEnv(
              {{"AWS_REGION", "r2"}, {"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "s"}}))
          .value();
  EXPECT_EQ(c.region, "r2");
  EXPECT_EQ(c.endpoint, "https://s3.r2.amazonaws.com");
  EXPECT_EQ(c.host, "s3.r2.amazonaws.com");
  c = ResolveS3Config(ParseS3Url("s3://bucket").value(), {},
                      FakeEnv({{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "s"}}))
          .value();
  EXPECT_EQ(c.region, "us-east-1");
}

TEST(S3Config, Errors) {
  auto creds = FakeEnv({{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "s"}});
  auto url = ParseS3Url("s3://bucket/p").value();
  auto st = ResolveS3Config(url, {}, FakeEnv({})).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(st.message(), "AWS_ACCESS_KEY_ID")) << st.message();
  EXPECT_EQ(ResolveS3Config(url, {}, FakeEnv({{"AWS_ACCESS_KEY_ID", "a"}})).status().code(),
            StatusCode::kInvalidArgument);

  st = ResolveS3Config(ParseS3Url("s3://bucket?profile=nope").value(), {}, creds).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(st.message(), "[s3.profiles.nope]")) << st.message();

  StoreOptions opt;
  opt.s3_profiles["p"] = {{"secret", "x"}};
  EXPECT_EQ(
      ResolveS3Config(ParseS3Url("s3://bucket?profile=p").value(), opt, creds).status().code(),
      StatusCode::kInvalidArgument);

  for (const char* ep : {"127.0.0.1:7480", "ftp://h", "http://h/path", "http://", "http://h?x=1"}) {
    StoreOptions o;
    o.s3_endpoint = ep;
    EXPECT_EQ(ResolveS3Config(url, o, creds).status().code(), StatusCode::kInvalidArgument) << ep;
  }
  StoreOptions o;
  o.s3_endpoint = "http://user:hunter2@h:1";
  st = ResolveS3Config(url, o, creds).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Contains(st.message(), "hunter2"));

  o.s3_endpoint = "http://h:80";
  EXPECT_EQ(ResolveS3Config(url, o, creds).value().host, "h");
  o.s3_endpoint = "https://h:443";
  EXPECT_EQ(ResolveS3Config(url, o, creds).value().host, "h");
  o.s3_endpoint = "https://h:80";
  EXPECT_EQ(ResolveS3Config(url, o, creds).value().host, "h:80");
}

TEST(S3Store, UrlNeverContainsSecrets) {
  StoreOptions opt;
  opt.s3_access_key = "AKIDVISIBLEONLYHERE";
  opt.s3_secret_key = "VERY/SECRET+KEY";
  opt.s3_endpoint = "http://127.0.0.1:7480";
  opt.s3_profiles["p"] = {{"secret_key", "PROFILESECRET"}, {"access_key", "PAK"}};
  auto s = OpenStore("s3://bucket/pre/fix/?profile=p&region=us-east-1", opt).value();
  EXPECT_EQ(s->Url(), "s3://bucket/pre/fix?region=us-east-1&profile=p");
  EXPECT_FALSE(Contains(s->Url(), "SECRET"));
  EXPECT_FALSE(Contains(s->Url(), "AKID"));
}

// A local port that nothing listens on.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(S3Store, UnreachableEndpointIsUnavailableQuickly) {
  StoreOptions opt;
  opt.s3_access_key = "AK";
  opt.s3_secret_key = "NOT-IN-MESSAGES";
  opt.s3_endpoint = "http://127.0.0.1:" + std::to_string(ClosedPort());
  opt.retries = 2;
  auto s = OpenStore("s3://bucket/p", opt).value();
  double t0 = MonotonicSeconds();
  Status st = s->Put("x", AsBytes("data"));
  double took = MonotonicSeconds() - t0;
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), opt.s3_endpoint)) << st.message();
  EXPECT_TRUE(Contains(st.message(), "3 attempts")) << st.message();
  EXPECT_FALSE(Contains(st.message(), "NOT-IN-MESSAGES"));
  EXPECT_LT(took, 3.0);
  EXPECT_GT(took, 0.1) << "it should have backed off between attempts";
  EXPECT_EQ(s->Ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->Get("x").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->List("").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->Put("a//b", AsBytes("x")).code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- S3 against a scripted server

// A minimal HTTP/1.1 server on 127.0.0.1 that answers with scripted replies and records
// what it was sent, to check retries, error mapping and the requests themselves.
class FakeS3 {
 public:
  struct Reply {
    int status = 200;  // 0: close the connection without answering
    std::string body;
  };
  struct Seen {
    std::string method, target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };

  FakeS3() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeS3() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    {
      std::lock_guard lock(mu_);
      if (conn_ >= 0) ::shutdown(conn_, SHUT_RDWR);
    }
    thread_.join();
    ::close(fd_);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Replies in order; the last one repeats.
  void Script(std::vector<Reply> replies) {
    std::lock_guard lock(mu_);
    replies_ = std::move(replies);
    next_ = 0;
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      {
        std::lock_guard lock(mu_);
        conn_ = c;
      }
      while (!stop_ && HandleOne(c)) {
      }
      {
        std::lock_guard lock(mu_);
        conn_ = -1;
      }
      ::close(c);
    }
  }

  bool ReadMore(int c, std::string& buf) {
    char tmp[65536];
    ssize_t r = ::recv(c, tmp, sizeof tmp, 0);
    if (r <= 0) return false;
    buf.append(tmp, static_cast<size_t>(r));
    return true;
  }

  bool HandleOne(int c) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!ReadMore(c, buf_)) return false;
    Seen req;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t eol = head.find("\r\n");
    std::string first = head.substr(0, eol);
    req.method = first.substr(0, first.find(' '));
    req.target = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      req.headers[name] = value;
      pos = e + 2;
    }
    size_t length =
        req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
    while (buf_.size() < length)
      if (!ReadMore(c, buf_)) return false;
    req.body = buf_.substr(0, length);
    buf_.erase(0, length);

    Reply reply;
    {
      std::lock_guard lock(mu_);
      seen_.push_back(req);
      if (!replies_.empty()) reply = replies_[std::min(next_++, replies_.size() - 1)];
    }
    if (reply.status == 0) return false;
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) +
                      " X\r\nContent-Length: " + std::to_string(reply.body.size()) +
                      "\r\nConnection: keep-alive\r\n\r\n";
    if (req.method != "HEAD") out += reply.body;
    return ::send(c, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  }

  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;  // guards replies_, next_, seen_, conn_
  std::vector<Reply> replies_;
  size_t next_ = 0;
  std::vector<Seen> seen_;
  int conn_ = -1;
  std::string buf_;  // only the server thread
};

std::string S3Error(const std::string& code, const std::string& message = "m") {
  return "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>" + message +
         "</Message></Error>";
}

std::unique_ptr<S3Store> FakeStore(const FakeS3& server, int retries = 5) {
  StoreOptions o;
  o.s3_endpoint = server.endpoint();
  o.s3_access_key = "AKFAKE";
  o.s3_secret_key = "secret";
  o.retries = retries;
  return S3Store::Open("s3://bucket/pre", o).value();
}

TEST(S3Fake, SignedPutWithEncodedKey) {
  FakeS3 server;
  server.Script({{200, ""}});
  auto s = FakeStore(server);
  std::string body = "payload bytes";
  ASSERT_TRUE(s->Put("dir/a b+c=ü", AsBytes(body)).ok());
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].target, "/bucket/pre/dir/a%20b%2Bc%3D%C3%BC");
  EXPECT_EQ(seen[0].body, body);
  EXPECT_EQ(seen[0].headers["x-amz-content-sha256"], sigv4::Sha256Hex(body));
  EXPECT_EQ(seen[0].headers["host"], "127.0.0.1:" + server.endpoint().substr(17));
  EXPECT_EQ(seen[0].headers["x-amz-date"].size(), 16u);
  EXPECT_TRUE(seen[0].headers["authorization"].starts_with(
      "AWS4-HMAC-SHA256 Credential=AKFAKE/" + seen[0].headers["x-amz-date"].substr(0, 8) +
      "/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
      "Signature="))
      << seen[0].headers["authorization"];
  EXPECT_EQ(seen[0].headers.count("expect"), 0u);
}

TEST(S3Fake, PutSurvivesAConnectionClosedUnderIt) {
  FakeS3 server;
  server.Script({{200, ""}, {0, ""}, {200, ""}});
  auto s = FakeStore(server);
  Bytes body(100000, 7);
  ASSERT_TRUE(s->Put("a", body).ok());
  Status st = s->Put("b", body);  // sent on the kept-alive connection the server drops
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].target, "/bucket/pre/b");
  EXPECT_EQ(seen[2].body.size(), body.size());
}

TEST(S3Fake, RetriesServerErrorsThenSucceeds) {
  FakeS3 server;
  server.Script({{503, S3Error("SlowDown")},
                 {500, S3Error("InternalError")},
                 {429, ""},
                 {400, S3Error("RequestTimeout")},
                 {200, "data"}});
  auto s = FakeStore(server);
  auto got = s->Get("x");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, ToBytes("data"));
  EXPECT_EQ(server.seen().size(), 5u);
  for (const auto& r : server.seen()) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.headers.at("x-amz-content-sha256"), sigv4::kEmptyPayloadSha256);
  }
}

TEST(S3Fake, GivesUpAfterRetries) {
  FakeS3 server;
  server.Script({{503, S3Error("SlowDown", "Please reduce your request rate.")}});
  auto s = FakeStore(server, 2);
  Status st = s->Put("x", AsBytes("v"));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Contains(st.message(), "503 SlowDown")) << st.message();
  EXPECT_TRUE(Contains(st.message(), "after 3 attempts")) << st.message();
  EXPECT_EQ(server.seen().size(), 3u);
}

TEST(S3Fake, ClientErrorsAreNotRetried) {
  FakeS3 server;
  auto s = FakeStore(server);
  struct Case {
    int status;
    std::string code;
    StatusCode want;
    std::string hint;
  };
  for (const Case& c : std::vector<Case>{
           {403, "SignatureDoesNotMatch", StatusCode::kPermissionDenied, "check the secret key"},
           {403, "InvalidAccessKeyId", StatusCode::kPermissionDenied, "check the access key"},
           {403, "RequestTimeTooSkewed", StatusCode::kPermissionDenied, "clock"},
           {403, "AccessDenied", StatusCode::kPermissionDenied, "may not use"},
           {404, "NoSuchKey", StatusCode::kNotFound, "not found"},
           {404, "NoSuchBucket", StatusCode::kUnavailable, "does not exist"},
           {400, "InvalidArgument", StatusCode::kIOError, "400 InvalidArgument: m"},
           {400, "AuthorizationHeaderMalformed", StatusCode::kInvalidArgument, "region"},
           {301, "PermanentRedirect", StatusCode::kInvalidArgument, "region"}}) {
    FakeS3 fresh;
    fresh.Script({{c.status, S3Error(c.code)}});
    Status st = FakeStore(fresh)->Get("obj").status();
    EXPECT_EQ(st.code(), c.want) << c.code << ": " << st.ToString();
    EXPECT_TRUE(Contains(st.message(), c.hint)) << st.message();
    EXPECT_TRUE(Contains(st.message(), "s3://bucket/pre")) << st.message();
    EXPECT_EQ(fresh.seen().size(), 1u) << c.code;
  }
}

TEST(S3Fake, StatDeleteAndBucketOperations) {
  FakeS3 server;
  auto s = FakeStore(server);
  server.Script({{200, std::string(1234, 'x')}});
  EXPECT_EQ(s->Stat("x").value(), 1234u);
  EXPECT_EQ(server.seen().back().method, "HEAD");
  server.Script({{404, ""}});
  EXPECT_EQ(s->Stat("x").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(s->Delete("x").ok());
  EXPECT_EQ(server.seen().back().method, "DELETE");
  EXPECT_EQ(s->Ping().code(), StatusCode::kUnavailable);  // HEAD bucket 404: no bucket
  EXPECT_EQ(server.seen().back().target, "/bucket");
  server.Script({{204, ""}});
  EXPECT_TRUE(s->Delete("x").ok());
  server.Script({{409, S3Error("BucketAlreadyOwnedByYou")}});
  EXPECT_TRUE(s->Create().ok());
  EXPECT_EQ(server.seen().back().method, "PUT");
  EXPECT_EQ(server.seen().back().target, "/bucket");
  EXPECT_TRUE(server.seen().back().body.empty()) << "us-east-1 takes no LocationConstraint";
  server.Script({{409, S3Error("BucketAlreadyExists")}});
  EXPECT_EQ(s->Create().code(), StatusCode::kAlreadyExists);
}

TEST(S3Fake, CreateOutsideUsEast1NamesTheRegion) {
  FakeS3 server;
  server.Script({{200, ""}});
  StoreOptions o;
  o.s3_endpoint = server.endpoint();
  o.s3_access_key = "a";
  o.s3_secret_key = "b";
  o.s3_region = "eu-central-1";
  ASSERT_TRUE(S3Store::Open("s3://bucket", o).value()->Create().ok());
  EXPECT_TRUE(
      Contains(server.seen().back().body, "<LocationConstraint>eu-central-1</LocationConstraint>"));
  EXPECT_TRUE(Contains(server.seen().back().headers["authorization"], "/eu-central-1/s3/"));
}

TEST(S3Fake, ListFollowsContinuationTokens) {
  FakeS3 server;
  auto page = [](std::vector<std::pair<std::string, int>> keys, const std::string& next) {
    std::string x = "<ListBucketResult>";
    for (auto& [k, n] : keys)
      x += "<Contents><Key>" + k + "</Key><Size>" + std::to_string(n) + "</Size></Contents>";
    x += next.empty() ? "<IsTruncated>false</IsTruncated>"
                      : "<IsTruncated>true</IsTruncated><NextContinuationToken>" + next +
                            "</NextContinuationToken>";
    return x + "</ListBucketResult>";
  };
  server.Script({{200, page({{"pre/d/a", 1}, {"pre/d/b&amp;c", 2}}, "tok/1+=")},
                 {200, page({{"pre/d/c", 3}}, "")}});
  auto s = FakeStore(server);
  s->SetListPageSize(2);
  auto listed = s->List("d/").value();
  ASSERT_EQ(Names(listed), (std::vector<std::string>{"d/a", "d/b&c", "d/c"}));
  EXPECT_EQ(listed[2].size, 3u);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/bucket?list-type=2&max-keys=2&prefix=pre%2Fd%2F");
  EXPECT_EQ(seen[1].target,
            "/bucket?continuation-token=tok%2F1%2B%3D&list-type=2&max-keys=2&prefix=pre%2Fd%2F");

  // A server that keeps saying "truncated" without a new token must not loop forever.
  server.Script({{200, page({{"pre/x", 1}}, "same")}});
  EXPECT_EQ(s->List("").status().code(), StatusCode::kIOError);
}

// ---------------------------------------------------------------- ListObjectsV2 XML

TEST(S3Xml, ParseListPage) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;x</NextContinuationToken>
<Contents><Key>p/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>
<Owner><ID>x</ID><DisplayName>y</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>p/&#233;&#x4E2D;</Key><Size>0</Size></Contents></ListBucketResult>)";
  auto page = ParseListObjectsV2(xml).value();
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].name, "p/a&b <c> \"d\" 'e'");
  EXPECT_EQ(page.objects[0].size, 434234u);
  EXPECT_EQ(page.objects[1].name, "p/é中");
  EXPECT_EQ(page.objects[1].size, 0u);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&x");

  auto empty =
      ParseListObjectsV2("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
          .value();
  EXPECT_TRUE(empty.objects.empty());
  EXPECT_FALSE(empty.truncated);

  EXPECT_EQ(ParseListObjectsV2("<Error><Code>x</Code></Error>").status().code(),
            StatusCode::kIOError);
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>a</Key>").ok());
  EXPECT_FALSE(
      ParseListObjectsV2("<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents>")
          .ok());
}

TEST(S3Xml, Unescape) {
  EXPECT_EQ(XmlUnescape("a&amp;b"), "a&b");
  EXPECT_EQ(XmlUnescape("&#65;&#x42;&#x1F600;"), "AB\xF0\x9F\x98\x80");
  EXPECT_EQ(XmlUnescape("&unknown; & &#xZZ; &#1114112;"), "&unknown; & &#xZZ; &#1114112;");
}

}  // namespace
}  // namespace tessera::store
