// S3Store against a real S3 service (run through tests/integration/run_s3.sh, which starts
// Ceph radosgw). Reads S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and S3_REGION from the
// environment; every test fails when they are missing, so a misconfigured run cannot pass.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>

#include "base/clock.hpp"
#include "store/object_store.hpp"
#include "store/s3_store.hpp"

namespace tessera::store {
namespace {

struct S3Env {
  std::string endpoint, access_key, secret_key, region;
};

std::optional<S3Env> ReadEnv() {
  auto get = [](const char* n) -> std::string {
    const char* v = std::getenv(n);
    return v ? v : "";
  };
  S3Env e{get("S3_ENDPOINT"), get("S3_ACCESS_KEY"), get("S3_SECRET_KEY"), get("S3_REGION")};
  if (e.endpoint.empty() || e.access_key.empty() || e.secret_key.empty()) return std::nullopt;
  if (e.region.empty()) e.region = "us-east-1";
  return e;
}

std::string UniqueBucket() {
  static std::atomic<int> counter{0};
  static const std::string run = std::to_string(std::random_device{}() % 1000000);
  return "tessera-itest-" + run + "-" + std::to_string(++counter);
}

Bytes RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::vector<std::string> Names(const std::vector<ObjectInfo>& v) {
  std::vector<std::string> out;
  for (const auto& o : v) out.push_back(o.name);
  return out;
}

class S3StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = ReadEnv();
    ASSERT_TRUE(env.has_value())
        << "S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY must be set: run this test through "
           "tests/integration/run_s3.sh, which starts radosgw";
    env_ = *env;
    bucket_ = UniqueBucket();
    store_ = Open("s3://" + bucket_ + "/pre/fix");
    ASSERT_TRUE(store_ != nullptr);
    Status created = store_->Create();
    ASSERT_TRUE(created.ok()) << created.ToString();
  }

  StoreOptions Options() const {
    StoreOptions o;
    o.s3_endpoint = env_.endpoint;
    o.s3_region = env_.region;
    o.s3_access_key = env_.access_key;
    o.s3_secret_key = env_.secret_key;
    o.retries = 2;
    o.timeout_seconds = 30;
    return o;
  }

  std::unique_ptr<S3Store> Open(const std::string& url) { return Open(url, Options()); }
  std::unique_ptr<S3Store> Open(const std::string& url, const StoreOptions& o) {
    auto s = S3Store::Open(url, o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  S3Env env_;
  std::string bucket_;
  std::unique_ptr<S3Store> store_;
};

TEST_F(S3StoreTest, BucketCreationAndPing) {
  EXPECT_TRUE(store_->Ping().ok());
  EXPECT_TRUE(store_->Create().ok()) << "creating an owned bucket again is fine";

  auto other = Open("s3://" + UniqueBucket() + "/x");
  Status ping = other->Ping();
  EXPECT_EQ(ping.code(), StatusCode::kUnavailable) << ping.ToString();
  EXPECT_TRUE(Contains(ping.message(), "does not exist")) << ping.message();
  Status put = other->Put("a", AsBytes("x"));
  EXPECT_EQ(put.code(), StatusCode::kUnavailable) << put.ToString();
  EXPECT_TRUE(Contains(put.message(), "does not exist")) << put.message();
  EXPECT_EQ(other->Get("a").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(other->List("").status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(other->Create().ok());
  EXPECT_TRUE(other->Ping().ok());
  EXPECT_TRUE(other->Put("a", AsBytes("x")).ok());
}

TEST_F(S3StoreTest, PutGetStatOverwriteDelete) {
  ASSERT_TRUE(store_->Put("data/3f/obj", AsBytes("hello")).ok());
  EXPECT_EQ(store_->Get("data/3f/obj").value(), ToBytes("hello"));
  EXPECT_EQ(store_->Stat("data/3f/obj").value(), 5u);
  ASSERT_TRUE(store_->Put("data/3f/obj", AsBytes("replaced!")).ok());
  EXPECT_EQ(store_->Get("data/3f/obj").value(), ToBytes("replaced!"));
  EXPECT_EQ(store_->Stat("data/3f/obj").value(), 9u);
  ASSERT_TRUE(store_->Delete("data/3f/obj").ok());
  EXPECT_EQ(store_->Get("data/3f/obj").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Stat("data/3f/obj").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete("data/3f/obj").ok()) << "deleting a missing object is fine";
}

TEST_F(S3StoreTest, MissingObjects) {
  auto g = store_->Get("no/such/object");
  EXPECT_EQ(g.status().code(), StatusCode::kNotFound) << g.status().ToString();
  EXPECT_TRUE(Contains(g.status().message(), "no/such/object")) << g.status().message();
  EXPECT_EQ(store_->Stat("no/such/object").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete("no/such/object").ok());
  EXPECT_TRUE(store_->List("no/").value().empty());
}

TEST_F(S3StoreTest, BinaryAndEmptyObjects) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  Bytes random = RandomBytes(100003, 7);
  ASSERT_TRUE(store_->Put("bin/all", all).ok());
  ASSERT_TRUE(store_->Put("bin/random", random).ok());
  ASSERT_TRUE(store_->Put("bin/empty", ByteView()).ok());
  EXPECT_EQ(store_->Get("bin/all").value(), all);
  EXPECT_EQ(store_->Get("bin/random").value(), random);
  EXPECT_TRUE(store_->Get("bin/empty").value().empty());
  EXPECT_EQ(store_->Stat("bin/empty").value(), 0u);
  auto listed = store_->List("bin/").value();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].name, "bin/all");
  EXPECT_EQ(listed[0].size, 256u);
  EXPECT_EQ(listed[1].name, "bin/empty");
  EXPECT_EQ(listed[1].size, 0u);
  EXPECT_EQ(listed[2].size, random.size());
}

TEST_F(S3StoreTest, SpecialCharacterNames) {
  std::vector<std::string> names = {"sp/with space",
                                    "sp/a+b=c",
                                    "sp/ünïcødé/名前",
                                    "sp/percent%41%",
                                    "sp/q?x=1&y",
                                    "sp/hash#frag",
                                    "sp/semi;colon",
                                    "sp/tilde~star*",
                                    "sp/quote'\"<>",
                                    "sp/brackets[1]{2}",
                                    "sp/emoji \xF0\x9F\x98\x80",
                                    "sp/back\\slash",
                                    "sp/...dots",
                                    "sp/,comma$dollar@at!"};
  for (const auto& n : names) {
    Status st = store_->Put(n, AsBytes(n));
    ASSERT_TRUE(st.ok()) << n << ": " << st.ToString();
  }
  for (const auto& n : names) {
    auto got = store_->Get(n);
    ASSERT_TRUE(got.ok()) << n << ": " << got.status().ToString();
    EXPECT_EQ(*got, ToBytes(n)) << n;
    EXPECT_EQ(store_->Stat(n).value(), n.size()) << n;
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Names(store_->List("sp/").value()), sorted);
  EXPECT_EQ(Names(store_->List("sp/ünïcødé/").value()),
            std::vector<std::string>{"sp/ünïcødé/名前"});
  EXPECT_EQ(Names(store_->List("sp/a+").value()), std::vector<std::string>{"sp/a+b=c"});
  for (const auto& n : names) EXPECT_TRUE(store_->Delete(n).ok()) << n;
  EXPECT_TRUE(store_->List("sp/").value().empty());
}

TEST_F(S3StoreTest, LargeObject8MiB) {
  Bytes big = RandomBytes(8 << 20, 99);
  double t0 = MonotonicSeconds();
  ASSERT_TRUE(store_->Put("big/8mib", big).ok());
  auto got = store_->Get("big/8mib");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == big);
  EXPECT_EQ(store_->Stat("big/8mib").value(), big.size());
  std::cerr << "8 MiB put+get: " << MonotonicSeconds() - t0 << " s\n";
}

TEST_F(S3StoreTest, ListPagesWithContinuationTokens) {
  store_->SetListPageSize(7);
  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "list/%03d", i);
    expected.push_back(name);
    ASSERT_TRUE(store_->Put(name, AsBytes(std::string(i, 'x'))).ok());
  }
  ASSERT_TRUE(store_->Put("listing-neighbour", AsBytes("n")).ok());
  ASSERT_TRUE(store_->Put("other/a", AsBytes("o")).ok());
  auto listed = store_->List("list/").value();
  EXPECT_EQ(Names(listed), expected);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(listed[i].size, uint64_t(i));
  EXPECT_EQ(store_->List("list").value().size(), 51u);
  EXPECT_EQ(store_->List("").value().size(), 52u);
  EXPECT_EQ(Names(store_->List("list/04").value()),
            (std::vector<std::string>{"list/040", "list/041", "list/042", "list/043", "list/044",
                                      "list/045", "list/046", "list/047", "list/048", "list/049"}));

  // The key prefix of the URL is a boundary: stores below other prefixes see nothing of it.
  auto sibling = Open("s3://" + bucket_ + "/pre/fix2");
  EXPECT_TRUE(sibling->List("").value().empty());
  auto parent = Open("s3://" + bucket_ + "/pre");
  EXPECT_EQ(parent->List("fix/list/").value().size(), 50u);
  EXPECT_EQ(parent->Get("fix/other/a").value(), ToBytes("o"));
  auto root = Open("s3://" + bucket_);
  EXPECT_EQ(root->Stat("pre/fix/other/a").value(), 1u);
}

TEST_F(S3StoreTest, ListMoreThanOneThousandObjects) {
  constexpr int kObjects = 1100, kThreads = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kObjects; i += kThreads) {
        if (!store_->Put("many/" + std::to_string(i), AsBytes("v")).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  auto listed = store_->List("many/").value();
  ASSERT_EQ(listed.size(), size_t(kObjects));
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
}

TEST_F(S3StoreTest, ConcurrentPutGet) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string name = "conc/" + std::to_string(t) + "/" + std::to_string(i);
        Bytes value = RandomBytes(1000 + i * 100, t * 1000 + i);
        if (!store_->Put(name, value).ok()) ++failures;
        auto got = store_->Get(name);
        if (!got.ok() || *got != value) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->List("conc/").value().size(), 160u);
}

TEST_F(S3StoreTest, WrongSecretKeyIsPermissionDenied) {
  StoreOptions o = Options();
  o.s3_secret_key = "definitely-not-the-secret-key-0000000000";
  auto s = Open("s3://" + bucket_ + "/pre/fix", o);
  Status st = s->Put("x", AsBytes("x"));
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "SignatureDoesNotMatch")) << st.message();
  EXPECT_TRUE(Contains(st.message(), "check the secret key")) << st.message();
  EXPECT_FALSE(Contains(st.message(), o.s3_secret_key));
  EXPECT_EQ(s->Get("x").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s->Stat("x").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s->List("").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s->Ping().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s->Delete("x").code(), StatusCode::kPermissionDenied);
}

TEST_F(S3StoreTest, WrongAccessKeyIsPermissionDenied) {
  StoreOptions o = Options();
  o.s3_access_key = "NOSUCHACCESSKEY00000";
  auto s = Open("s3://" + bucket_, o);
  Status st = s->Put("x", AsBytes("x"));
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "access key")) << st.message();
  EXPECT_EQ(s->Ping().code(), StatusCode::kPermissionDenied);
}

int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST_F(S3StoreTest, UnreachableEndpointIsUnavailable) {
  StoreOptions o = Options();
  o.s3_endpoint = "http://127.0.0.1:" + std::to_string(ClosedPort());
  o.retries = 1;
  auto s = Open("s3://" + bucket_, o);
  double t0 = MonotonicSeconds();
  Status st = s->Ping();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), o.s3_endpoint)) << st.message();
  EXPECT_EQ(s->Get("x").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s->Put("x", AsBytes("x")).code(), StatusCode::kUnavailable);
  EXPECT_LT(MonotonicSeconds() - t0, 5.0);

  // With the default retries it still gives up within the documented bound.
  o.retries = StoreOptions{}.retries;
  auto d = Open("s3://" + bucket_, o);
  t0 = MonotonicSeconds();
  EXPECT_EQ(d->Stat("x").status().code(), StatusCode::kUnavailable);
  EXPECT_LT(MonotonicSeconds() - t0, 10.0);
}

TEST_F(S3StoreTest, OpenFromUrlAndEnvironment) {
  // What `vault` does: a URL with the endpoint, credentials from the environment.
  ::setenv("AWS_ACCESS_KEY_ID", env_.access_key.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", env_.secret_key.c_str(), 1);
  auto s = OpenStore("s3://" + bucket_ + "/pre/fix?endpoint=" + env_.endpoint +
                     "&region=" + env_.region);
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*s)->Put("via-url", AsBytes("u")).ok());
  EXPECT_EQ(store_->Get("via-url").value(), ToBytes("u"));
  EXPECT_FALSE(Contains((*s)->Url(), env_.secret_key));
  EXPECT_FALSE(Contains((*s)->Url(), env_.access_key));
  EXPECT_EQ((*s)->Url(),
            "s3://" + bucket_ + "/pre/fix?endpoint=" + env_.endpoint + "&region=" + env_.region);

  // And through a named profile.
  StoreOptions o;
  o.s3_profiles["test"] = {{"endpoint", env_.endpoint},
                           {"access_key", env_.access_key},
                           {"secret_key", env_.secret_key}};
  auto p = OpenStore("s3://" + bucket_ + "/pre/fix?profile=test", o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->Get("via-url").value(), ToBytes("u"));
}

}  // namespace
}  // namespace tessera::store
