#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/file_lock.hpp"
#include "base/files.hpp"
#include "base/json_fields.hpp"
#include "base/memory.hpp"
#include "base/pending_file.hpp"
#include "base/progress.hpp"
#include "base/sqlite.hpp"
#include "base/status.hpp"
#include "base/thread_pool.hpp"
#include "base/utf8.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

Result<int> Half(int v) {
  if (v % 2) return Status::InvalidArgument("odd");
  return v / 2;
}
Result<int> Quarter(int v) {
  TESSERA_ASSIGN_OR_RETURN(int h, Half(v));
  TESSERA_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, CodesMessagesAndMacros) {
  EXPECT_TRUE(Status::Ok().ok());
  Status st = Status::NotFound("no such snapshot");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.ToString(), "NotFound: no such snapshot");
  EXPECT_EQ(st.WithContext("restore").message(), "restore: no such snapshot");
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
  Result<int> bad = Status::Ok();  // a Result never holds OK without a value
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(Status::FromErrno("open x", ENOENT).code(), StatusCode::kNotFound);
  EXPECT_EQ(Status::FromErrno("open x", EACCES).code(), StatusCode::kPermissionDenied);
}

TEST(Bytes, HexAndIntegers) {
  Bytes b = {0x00, 0x7f, 0xff, 0x10};
  EXPECT_EQ(HexEncode(b), "007fff10");
  EXPECT_EQ(*HexDecode("007FFF10"), b);
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
  Bytes out;
  PutU16(out, 0xbeef);
  PutU32(out, 0xdeadbeef);
  PutU64(out, 0x0123456789abcdefULL);
  EXPECT_EQ(GetU16(out.data()), 0xbeef);
  EXPECT_EQ(GetU32(out.data() + 2), 0xdeadbeefu);
  EXPECT_EQ(GetU64(out.data() + 6), 0x0123456789abcdefULL);
  SecretBytes s(ToBytes("secret"));
  SecretBytes moved = std::move(s);
  EXPECT_EQ(AsString(moved.view()), "secret");
  EXPECT_TRUE(s.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
}

TEST(Utf8, ValidAndNot) {
  for (const std::string& s :
       std::vector<std::string>{"", "plain ascii, longer than one word of eight", "公文 郵件",
                                "\xF0\x9F\x98\x80", "\x7F", std::string(1, '\0')})
    EXPECT_TRUE(IsValidUtf8(s)) << s;
  // Big5 公文, a lone continuation byte, a cut-off sequence, overlong '/', a surrogate,
  // above U+10FFFF; each also after an ASCII run of a word or more.
  for (const std::string& bad :
       std::vector<std::string>{"\xA4\xBD\xA4\xE5", "\x80", "\xE5\x85", "\xC0\xAF", "\xED\xA0\x80",
                                "\xF4\x90\x80\x80"}) {
    EXPECT_FALSE(IsValidUtf8(bad));
    EXPECT_FALSE(IsValidUtf8("abcdefghij" + bad));
    EXPECT_FALSE(IsValidUtf8("abcdefghij" + bad + "klmnopqrstuvwxyz"));
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8(bad)));
  }
  EXPECT_EQ(ToValidUtf8("a\xA4\xBD公"), "a\xEF\xBF\xBD\xEF\xBF\xBD公");
  EXPECT_EQ(ToValidUtf8("\xE5\x85"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8("公文"), "公文");
}

TEST(Files, AtomicWriteReadAndModes) {
  fs::path dir = fs::temp_directory_path() / ("tessera-base-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(MakeDirs(dir / "a" / "b").ok());
  fs::path f = dir / "a" / "b" / "key";
  ASSERT_TRUE(WriteFileAtomic(f, std::string_view("first"), 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(f, std::string_view("second"), 0600).ok());
  EXPECT_EQ(*ReadTextFile(f), "second");
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary files are left behind.
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir / "a" / "b")) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(ReadFile(dir / "missing").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(WriteFileAtomic(dir / "nodir" / "x", std::string_view("x")).ok());
  fs::remove_all(dir);
}

TEST(Files, APendingFileAppearsOnlyWhenCommitted) {
  fs::path dir = fs::temp_directory_path() / ("tessera-pending-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(MakeDirs(dir).ok());
  auto regular_files = [&] {
    int n = 0;
    for (auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
    return n;
  };
  {
    auto dropped = PendingFile::Create(dir / "dropped", 0600);
    ASSERT_TRUE(dropped.ok());
    ASSERT_TRUE(dropped->Append(std::string_view("half of it")).ok());
    EXPECT_EQ(regular_files(), 1);  // the temporary file, under a hidden name
    EXPECT_EQ(dropped->temporary().filename().string().rfind(".dropped.tmp-", 0), 0u);
  }
  EXPECT_EQ(regular_files(), 0) << "dropped without Commit: nothing is left";
  auto kept = PendingFile::Create(dir / "kept", 0600);
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE(kept->Append(std::string_view("one, ")).ok());
  ASSERT_TRUE(kept->Append(AsBytes("two")).ok());
  EXPECT_FALSE(fs::exists(dir / "kept"));
  PendingFile moved = std::move(*kept);
  ASSERT_TRUE(moved.Commit().ok());
  EXPECT_EQ(*ReadTextFile(dir / "kept"), "one, two");
  EXPECT_EQ(regular_files(), 1);
  EXPECT_FALSE(moved.Append(std::string_view("more")).ok());
  EXPECT_FALSE(PendingFile::Create(dir / "nodir" / "x").ok());
  fs::remove_all(dir);
}

// One holder at a time; a refused taker learns who holds it; the lock goes with its holder,
// and a process that dies releases it (the kernel closes its descriptor).
TEST(Files, AFileLockHasOneHolderAtATime) {
  fs::path dir = fs::temp_directory_path() / ("tessera-lock-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(MakeDirs(dir).ok());
  const fs::path path = dir / "x.lock";
  {
    auto first = FileLock::Take(path, FileLock::Wait::kNo, "the first");
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    auto second = FileLock::Take(path, FileLock::Wait::kNo, "the first holder");
    ASSERT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(second.status().message().find("the first holder holds"), std::string::npos);
    FileLock moved = std::move(*first);
    EXPECT_FALSE(FileLock::Take(path, FileLock::Wait::kNo).ok()) << "moved, still held";
  }
  EXPECT_TRUE(FileLock::Take(path, FileLock::Wait::kNo).ok()) << "released with its holder";
  const pid_t child = ::fork();
  if (child == 0) {
    auto held = FileLock::Take(path, FileLock::Wait::kYes);
    ::_exit(held.ok() ? 0 : 1);  // dies holding it
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(FileLock::Take(path, FileLock::Wait::kYes).ok());
  EXPECT_FALSE(FileLock::Take(dir / "nodir" / "x.lock", FileLock::Wait::kNo).ok());
  fs::remove_all(dir);
}

// Large files go out with direct I/O in aligned blocks and the rest through the page
// cache; every size around the block and threshold edges reads back whole, from any
// buffer alignment, on disk and (where direct I/O may be refused) in /dev/shm.
TEST(Files, LargeAtomicWritesReadBackWhole) {
  std::vector<fs::path> roots = {fs::temp_directory_path()};
  if (fs::is_directory("/dev/shm")) roots.push_back("/dev/shm");
  // Aligned, so that shifts 0 and 4096 write straight from memory and shift 1 through the
  // bounce buffer.
  AlignedBuffer pattern(kDirectMinSize * 13 + 4096 + 1, kDirectAlign);
  for (size_t i = 0; i < pattern.size(); ++i)
    pattern.data()[i] = static_cast<uint8_t>(i * 131 + i / 7);
  for (const fs::path& root : roots) {
    fs::path dir = root / ("tessera-large-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    ASSERT_TRUE(MakeDirs(dir).ok());
    fs::path f = dir / "shard";
    for (size_t size : {kDirectMinSize - 1, kDirectMinSize, kDirectMinSize + 1,
                        kDirectMinSize + 4095, size_t{3 << 20}, pattern.size() - 1}) {
      for (size_t shift : {0, 1, 4096}) {
        SCOPED_TRACE(dir.string() + " size " + std::to_string(size) + " shift " +
                     std::to_string(shift));
        ByteView data(pattern.data() + shift, std::min(size, pattern.size() - shift));
        ASSERT_TRUE(WriteFileAtomic(f, data, 0600).ok());
        auto back = ReadFile(f);
        ASSERT_TRUE(back.ok());
        ASSERT_EQ(back->size(), data.size());
        EXPECT_TRUE(std::equal(back->begin(), back->end(), data.begin()));
      }
    }
    fs::remove_all(dir);
  }
}

TEST(Memory, AlignedBuffersOfEverySize) {
  for (size_t size : {size_t{1}, size_t{4096}, size_t{100000}, (size_t{2} << 20) - 1,
                      size_t{2} << 20, (size_t{13} << 20) + 12345}) {
    SCOPED_TRACE(size);
    AlignedBuffer b(size, kDirectAlign);
    ASSERT_EQ(b.size(), size);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kDirectAlign, 0u);
    std::memset(b.data(), 0x5A, size);  // every byte is usable (ASan checks the bounds)
    AlignedBuffer moved(std::move(b));
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(b.data(), nullptr);
    ASSERT_EQ(moved.size(), size);
    EXPECT_EQ(moved.data()[size - 1], 0x5A);
    AlignedBuffer other(64, 64);
    other = std::move(moved);  // frees the small buffer, takes the large one
    EXPECT_EQ(other.size(), size);
    EXPECT_EQ(other.data()[0], 0x5A);
  }
}

TEST(Memory, AFreedLargeBufferIsReusedForOneOfAboutItsSize) {
  const size_t size = (size_t{21} << 20) + 1;  // a size no other test of this process uses
  const uint8_t* first;
  {
    AlignedBuffer b(size, kDirectAlign);
    first = b.data();
    std::memset(b.data(), 1, size);
  }
  {
    AlignedBuffer again(size - 4096, kDirectAlign);
    EXPECT_EQ(again.data(), first);
    std::memset(again.data(), 2, again.size());
  }
  // Far smaller requests do not tie up a large mapping.
  AlignedBuffer small(size_t{3} << 20, kDirectAlign);
  EXPECT_NE(small.data(), first);
  std::memset(small.data(), 3, small.size());
}

TEST(Clock, FormatAndParse) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  int64_t t = *ParseRfc3339("2026-11-23T09:18:35Z");
  EXPECT_EQ(FormatRfc3339(t), "2026-11-23T09:18:35Z");
  EXPECT_EQ(*ParseRfc3339("2026-11-23"), *ParseRfc3339("2026-11-23T00:00:00Z"));
  EXPECT_EQ(*ParseRfc3339("2026-11-23T09:18:35.5Z") - t, 500000000);
  EXPECT_EQ(FormatRfc3339(t + 5, true), "2026-11-23T09:18:35.000000005Z");
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_FALSE(ParseRfc3339("2026-13-01").ok());
  EXPECT_FALSE(ParseRfc3339("2026-11-23T09:18:35+08:00").ok());
}

TEST(ThreadPool, RunsEverythingAndReturnsResults) {
  std::atomic<int> sum{0};
  std::vector<std::future<int>> futures;
  {
    ThreadPool pool(3);
    EXPECT_EQ(pool.size(), 3u);
    for (int i = 1; i <= 100; ++i)
      futures.push_back(pool.Submit([i, &sum] {
        sum += i;
        return i * 2;
      }));
  }
  EXPECT_EQ(sum, 5050);
  int total = 0;
  for (auto& f : futures) total += f.get();
  EXPECT_EQ(total, 10100);
}

TEST(Progress, HumanBytesAndCounting) {
  EXPECT_EQ(HumanBytes(12), "12 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(uint64_t{3} << 30), "3.0 GiB");
  Progress p("test", false);
  p.Add(2, 100);
  p.Add(1, 50);
  EXPECT_EQ(p.items(), 3u);
  EXPECT_EQ(p.bytes(), 150u);
}

TEST(JsonFields, IntegersAreReadStrictly) {
  auto j = nlohmann::json::parse(
      R"({"small":7,"negative":-3,"big":5000000000,"float":1.5,"huge_float":1.6e15,"text":"7",)"
      R"("list":[1,2,3],"bad_list":[1,2.5]})");
  EXPECT_EQ(RequiredInt<int>(j, "small"), 7);
  EXPECT_EQ(RequiredInt<int>(j, "negative"), -3);
  EXPECT_EQ(RequiredInt<int64_t>(j, "big"), 5000000000);
  EXPECT_EQ(OptionalInt<int>(j, "absent", 42), 42);
  EXPECT_EQ(IntArray<uint32_t>(j["list"], "list"), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_THROW(RequiredInt<uint32_t>(j, "negative"), std::invalid_argument);
  EXPECT_THROW(RequiredInt<int32_t>(j, "big"), std::invalid_argument);
  EXPECT_THROW(RequiredInt<int>(j, "float"), std::invalid_argument);
  EXPECT_THROW(RequiredInt<uint32_t>(j, "huge_float"), std::invalid_argument);
  EXPECT_THROW(RequiredInt<int>(j, "text"), std::invalid_argument);
  EXPECT_THROW(RequiredInt<int>(j, "absent"), nlohmann::json::out_of_range);
  EXPECT_THROW(IntArray<uint32_t>(j["bad_list"], "bad_list"), std::invalid_argument);
  try {
    OptionalInt<int>(j, "float", 0);
    ADD_FAILURE() << "a float was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "float is not an integer");
  }
}

}  // namespace
}  // namespace tessera

TEST(Sqlite, ATransactionInsideAnotherIsASavepoint) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("tessera-sqlite-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto db = tessera::Database::Open(dir / "t.db");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(v INTEGER)").ok());
  auto count = [&] {
    auto q = (*db)->Prepare("SELECT count(*) FROM t");
    EXPECT_TRUE(q.ok() && *q->Step());
    return q->Int(0);
  };
  {
    auto outer = tessera::Transaction::Begin(**db);
    ASSERT_TRUE(outer.ok());
    EXPECT_TRUE((*db)->InTransaction());
    {
      auto kept = tessera::Transaction::Begin(**db);
      ASSERT_TRUE(kept.ok());
      ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES(1)").ok());
      ASSERT_TRUE(kept->Commit().ok());
    }
    {
      auto dropped = tessera::Transaction::Begin(**db);
      ASSERT_TRUE(dropped.ok());
      ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES(2)").ok());
    }  // not committed: only its own insert is undone
    EXPECT_TRUE((*db)->InTransaction());
    EXPECT_EQ(count(), 1);
    ASSERT_TRUE(outer->Commit().ok());
  }
  EXPECT_FALSE((*db)->InTransaction());
  EXPECT_EQ(count(), 1);
  {
    auto outer = tessera::Transaction::Begin(**db);
    ASSERT_TRUE(outer.ok());
    auto inner = tessera::Transaction::Begin(**db);
    ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES(3)").ok());
    ASSERT_TRUE(inner->Commit().ok());
  }  // the outer one rolls back, and the inner's commit with it
  EXPECT_EQ(count(), 1);
  std::filesystem::remove_all(dir);
}

TEST(Sqlite, StatementsAreReusedWithoutTheirBindingsOrOpenReads) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tessera-sqlite-cache-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto db = tessera::Database::Open(dir / "t.db");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(1), (2), (3)").ok());
  const std::string select = "SELECT count(*) FROM t WHERE v >= ?";
  {
    // The same text twice at once: two statements, each with its own bindings.
    auto a = (*db)->Prepare(select);
    auto b = (*db)->Prepare(select);
    ASSERT_TRUE(a.ok() && b.ok());
    a->Bind(1, 2);
    b->Bind(1, 3);
    ASSERT_TRUE(*a->Step() && *b->Step());
    EXPECT_EQ(a->Int(0), 2);
    EXPECT_EQ(b->Int(0), 1);
  }
  {
    // Handed out again: the earlier binding is gone (NULL matches nothing).
    auto again = (*db)->Prepare(select);
    ASSERT_TRUE(again.ok() && *again->Step());
    EXPECT_EQ(again->Int(0), 0);
  }
  {
    // Left after its first row: returned to the cache reset, so it holds no read open and
    // the table can be dropped.
    auto rows = (*db)->Prepare("SELECT v FROM t");
    ASSERT_TRUE(rows.ok() && *rows->Step());
  }
  EXPECT_TRUE((*db)->Exec("DROP TABLE t").ok());
  // A statement that outlives its database finalizes itself (AddressSanitizer checks it).
  std::optional<tessera::Statement> orphan;
  {
    auto q = (*db)->Prepare("SELECT 1");
    ASSERT_TRUE(q.ok());
    orphan.emplace(std::move(q).value());
  }
  db->reset();
  orphan.reset();
  std::filesystem::remove_all(dir);
}
