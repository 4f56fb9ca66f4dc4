// The archive's consistent copy: exactly the objects its database copy names (hard links,
// not the index), the keys and the audit log; installed into an empty home it verifies,
// and it never overwrites an archive.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "archive/archive_snapshot.hpp"
#include "archive/search_index.hpp"
#include "base/files.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::archive {
namespace {

namespace fs = std::filesystem;
using ::testing::IsEmpty;

int64_t AddMessage(MessageStore& store, const std::string& subject) {
  const std::string raw = "From: a@ntbt.gov.tw\r\nSubject: " + subject + "\r\n\r\nbody\r\n";
  auto parsed = ParseMessage(AsBytes(raw));
  EXPECT_OK(parsed);
  Delivery d;
  d.source = "test";
  d.recipients = {"bcc@ntbt.gov.tw"};
  auto added = store.Add(AsBytes(raw), *parsed, d);
  EXPECT_OK(added);
  return added.ok() ? added->message : 0;
}

int CountFiles(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n++;
  return n;
}

TEST(ArchiveSnapshot, StagesWhatTheDatabaseNamesAndInstallsIntoAnEmptyHome) {
  TempDir dir;
  const fs::path home = dir.path() / "home";
  auto store = MessageStore::Open(home / "archive");
  ASSERT_OK(store);
  const int64_t first = AddMessage(**store, "一");
  AddMessage(**store, "二");
  auto index = SearchIndex::OpenForWriting(home / "archive" / "index");
  ASSERT_OK(index);
  ASSERT_OK((*index)->CatchUp(**store, nullptr));
  ASSERT_OK(WriteFileAtomic(home / "audit.key", std::string_view("{}"), 0600));
  // An object no record names (left by a crash before its records) is not copied.
  ASSERT_OK(MakeDirs(home / "archive" / "messages" / "ff"));
  ASSERT_OK(WriteFileAtomic(home / "archive" / "messages" / "ff" / std::string(64, 'f'),
                            std::string_view("orphan")));

  auto staged = StageArchive(home, dir.path() / "staging");
  ASSERT_OK(staged);
  EXPECT_EQ(staged->messages, 2u);
  EXPECT_EQ(CountFiles(dir.path() / "staging" / "archive" / "messages"), 2);
  EXPECT_FALSE(fs::exists(dir.path() / "staging" / "archive" / "index"));
  EXPECT_TRUE(fs::exists(dir.path() / "staging" / "archive" / "key"));
  EXPECT_TRUE(fs::exists(dir.path() / "staging" / "audit.key"));
  // Hard links: the same file, not a copy.
  auto found = (*store)->Find(first);
  ASSERT_OK(found);
  const std::string name = MessageObjectName(found->sha256);
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat((home / "archive" / name).c_str(), &a), 0);
  ASSERT_EQ(::stat((dir.path() / "staging" / "archive" / name).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);

  // Messages added after the copy are not in it.
  AddMessage(**store, "三");
  auto installed = InstallStagedArchive(dir.path() / "staging", dir.path() / "new-home");
  ASSERT_OK(installed);
  EXPECT_THAT(installed->problems, IsEmpty());
  EXPECT_EQ(installed->messages, 2u);
  EXPECT_EQ(installed->deliveries, 2u);

  // Never over an existing archive.
  auto again = StageArchive(home, dir.path() / "staging2");
  ASSERT_OK(again);
  EXPECT_EQ(InstallStagedArchive(dir.path() / "staging2", home).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(StageArchive(dir.path() / "nothing", dir.path() / "s3").status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera::archive
