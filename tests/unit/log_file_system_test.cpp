// The storage seam: one contract, run against PosixFileSystem (in a temporary directory) and FakeFileSystem;
// then what only the fake does (power loss, crashes, injected failures).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "log/posix_file_system.hpp"
#include "log_test_support.hpp"

namespace weft::detail::log {
namespace {

using testing::bytes;
using testing::text;
using weft::testing::FakeFileSystem;

struct FsParam {
  const char* name;
  bool posix;
};
void PrintTo(const FsParam& p, std::ostream* os) {
  *os << p.name;
}

class LogFileSystemContract : public ::testing::TestWithParam<FsParam> {
 protected:
  void SetUp() override {
    if (GetParam().posix) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "weft-log-fs-XXXXXX").string();
      ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
      root_ = tmpl;
      fs_ = std::make_unique<PosixFileSystem>();
    } else {
      root_ = "/fake";
      fs_ = std::make_unique<FakeFileSystem>();
      ASSERT_TRUE(fs_->make_dir(root_).is_ok());
    }
  }
  void TearDown() override {
    if (GetParam().posix) std::filesystem::remove_all(root_);
  }
  std::string path(const char* name) const { return join_path(root_, name); }

  std::string root_;
  std::unique_ptr<FileSystem> fs_;
};

TEST_P(LogFileSystemContract, AppendsReadsAtOffsetsAndReportsSize) {
  auto file = fs_->open(path("a"), OpenMode::kCreateOrTrunc);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  ASSERT_TRUE((*file)->append(bytes("hello ")).is_ok());
  ASSERT_TRUE((*file)->append(bytes("world")).is_ok());
  EXPECT_EQ(*(*file)->size(), 11u);
  std::vector<std::byte> out(5);
  EXPECT_EQ(*(*file)->read_at(6, out), 5u);
  EXPECT_EQ(text(out), "world");
  EXPECT_EQ(*(*file)->read_at(9, out), 2u);  // short at the end
  EXPECT_EQ(*(*file)->read_at(50, out), 0u);
  EXPECT_TRUE((*file)->sync().is_ok());
  EXPECT_EQ((*file)->path(), path("a"));
}

TEST_P(LogFileSystemContract, TruncateCutsAndAppendContinuesAtTheNewEnd) {
  auto file = fs_->open(path("t"), OpenMode::kCreateOrTrunc);
  ASSERT_TRUE(file.is_ok());
  ASSERT_TRUE((*file)->append(bytes("0123456789")).is_ok());
  ASSERT_TRUE((*file)->truncate(4).is_ok());
  ASSERT_TRUE((*file)->append(bytes("xy")).is_ok());
  auto all = read_whole_file(*fs_, path("t"));
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(text(*all), "0123xy");
}

TEST_P(LogFileSystemContract, OpenModes) {
  EXPECT_EQ(fs_->open(path("missing"), OpenMode::kRead).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(fs_->open(path("missing"), OpenMode::kReadWrite).status().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(write_whole_file(*fs_, path("m"), bytes("old content")).is_ok());
  {
    auto rw = fs_->open(path("m"), OpenMode::kReadWrite);
    ASSERT_TRUE(rw.is_ok());
    ASSERT_TRUE((*rw)->append(bytes("+")).is_ok());  // appends, keeps what was there
  }
  EXPECT_EQ(text(*read_whole_file(*fs_, path("m"))), "old content+");
  auto ro = fs_->open(path("m"), OpenMode::kRead);
  ASSERT_TRUE(ro.is_ok());
  EXPECT_FALSE((*ro)->append(bytes("x")).is_ok());
  ASSERT_TRUE(fs_->open(path("m"), OpenMode::kCreateOrTrunc).is_ok());
  EXPECT_TRUE(read_whole_file(*fs_, path("m"))->empty());
}

TEST_P(LogFileSystemContract, ListsRenamesAndRemoves) {
  ASSERT_TRUE(write_whole_file(*fs_, path("x"), bytes("1")).is_ok());
  ASSERT_TRUE(write_whole_file(*fs_, path("y"), bytes("2")).is_ok());
  ASSERT_TRUE(fs_->rename(path("x"), path("y")).is_ok());  // replaces
  auto names = fs_->list_dir(root_);
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, std::vector<std::string>{"y"});
  EXPECT_EQ(text(*read_whole_file(*fs_, path("y"))), "1");
  ASSERT_TRUE(fs_->remove(path("y")).is_ok());
  EXPECT_EQ(fs_->remove(path("y")).code(), ErrorCode::kNotFound);
  EXPECT_TRUE(fs_->list_dir(root_)->empty());
  EXPECT_TRUE(fs_->sync_dir(root_).is_ok());
}

TEST_P(LogFileSystemContract, MakeDirCreatesParentsAndIsIdempotent) {
  const std::string deep = join_path(root_, "a/b/c");
  ASSERT_TRUE(fs_->make_dir(deep).is_ok());
  ASSERT_TRUE(fs_->make_dir(deep).is_ok());
  ASSERT_TRUE(write_whole_file(*fs_, join_path(deep, "f"), bytes("z")).is_ok());
  EXPECT_EQ(*fs_->list_dir(deep), std::vector<std::string>{"f"});
  EXPECT_EQ(*fs_->list_dir(join_path(root_, "a")), std::vector<std::string>{"b"});
  EXPECT_EQ(fs_->list_dir(join_path(root_, "nope")).status().code(), ErrorCode::kNotFound);
}

TEST_P(LogFileSystemContract, AnOpenFileOutlivesItsName) {
  ASSERT_TRUE(write_whole_file(*fs_, path("gone"), bytes("still here")).is_ok());
  auto file = fs_->open(path("gone"), OpenMode::kRead);
  ASSERT_TRUE(file.is_ok());
  ASSERT_TRUE(fs_->remove(path("gone")).is_ok());
  std::vector<std::byte> out(10);
  EXPECT_EQ(*(*file)->read_at(0, out), 10u);
  EXPECT_EQ(text(out), "still here");
}

INSTANTIATE_TEST_SUITE_P(Both, LogFileSystemContract, ::testing::Values(FsParam{"Posix", true}, FsParam{"Fake", false}),
                         [](const ::testing::TestParamInfo<FsParam>& p) { return std::string(p.param.name); });

// ---- What only the fake does -----------------------------------------------------------------------------

class LogFakeFileSystem : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs_.make_dir("/d").is_ok()); }
  std::unique_ptr<File> create(const std::string& path) { return fs_.open(path, OpenMode::kCreateOrTrunc).value(); }
  FakeFileSystem fs_;
};

TEST_F(LogFakeFileSystem, PowerLossKeepsOnlySyncedBytesAndSyncedEntries) {
  auto f = create("/d/f");
  ASSERT_TRUE(fs_.sync_dir("/d").is_ok());
  ASSERT_TRUE(f->append(bytes("durable")).is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(f->append(bytes(" lost")).is_ok());
  auto g = create("/d/g");  // never made durable in the directory
  ASSERT_TRUE(g->append(bytes("x")).is_ok());
  ASSERT_TRUE(g->sync().is_ok());
  fs_.power_loss();
  EXPECT_EQ(text(fs_.contents("/d/f")), "durable");
  EXPECT_FALSE(fs_.exists("/d/g"));
  EXPECT_FALSE(f->append(bytes("y")).is_ok());  // the handle died with the "process"
}

TEST_F(LogFakeFileSystem, UnsyncedRemovalComesBackAfterPowerLoss) {
  auto f = create("/d/f");
  ASSERT_TRUE(f->append(bytes("abc")).is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(fs_.sync_dir("/d").is_ok());
  ASSERT_TRUE(fs_.remove("/d/f").is_ok());
  fs_.power_loss();
  EXPECT_EQ(text(fs_.contents("/d/f")), "abc");
}

TEST_F(LogFakeFileSystem, ProcessCrashLosesNothingButKillsHandles) {
  auto f = create("/d/f");
  ASSERT_TRUE(f->append(bytes("page cache")).is_ok());
  fs_.crash();
  EXPECT_EQ(text(fs_.contents("/d/f")), "page cache");
  EXPECT_FALSE(f->sync().is_ok());
}

TEST_F(LogFakeFileSystem, TheNthSyncFailsOnceOrFromThenOn) {
  auto f = create("/d/f");
  fs_.fail(FakeFileSystem::Op::kSync, 2, ENOSPC);
  EXPECT_TRUE(f->sync().is_ok());
  Status s = f->sync();
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.to_string();
  EXPECT_TRUE(f->sync().is_ok());
  fs_.fail(FakeFileSystem::Op::kSync, 1, EIO, true);
  EXPECT_FALSE(f->sync().is_ok());
  EXPECT_FALSE(f->sync().is_ok());
  EXPECT_EQ(fs_.failed_syncs(), 3u);
}

// The fsyncgate behaviour: after a failed fsync the pending bytes are gone even if a later fsync succeeds.
TEST_F(LogFakeFileSystem, ARetriedSyncAfterAFailureDoesNotBringTheDataBack) {
  auto f = create("/d/f");
  ASSERT_TRUE(fs_.sync_dir("/d").is_ok());
  ASSERT_TRUE(f->append(bytes("safe|")).is_ok());
  ASSERT_TRUE(f->sync().is_ok());
  ASSERT_TRUE(f->append(bytes("dropped")).is_ok());
  fs_.fail(FakeFileSystem::Op::kSync, 1);
  ASSERT_FALSE(f->sync().is_ok());
  ASSERT_TRUE(f->sync().is_ok());  // "succeeds"
  fs_.power_loss();
  const auto after = fs_.contents("/d/f");
  ASSERT_EQ(after.size(), 12u);
  EXPECT_EQ(text(std::span(after).first(5)), "safe|");
  for (std::size_t i = 5; i < after.size(); ++i) EXPECT_EQ(after[i], std::byte{0}) << i;
}

TEST_F(LogFakeFileSystem, AFailedAppendCanLeaveAPartialWrite) {
  auto f = create("/d/f");
  fs_.fail_append(1, ENOSPC, 3);
  EXPECT_FALSE(f->append(bytes("abcdef")).is_ok());
  EXPECT_EQ(text(fs_.contents("/d/f")), "abc");
}

TEST_F(LogFakeFileSystem, FaultsCanTargetOnePath) {
  auto a = create("/d/a.log");
  auto b = create("/d/b.index");
  FakeFileSystem::Fault only_logs;
  only_logs.sticky = true;
  only_logs.path_contains = ".log";
  fs_.inject(only_logs);
  EXPECT_TRUE(b->sync().is_ok());
  EXPECT_FALSE(a->sync().is_ok());
}

}  // namespace
}  // namespace weft::detail::log
