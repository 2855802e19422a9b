// WriteFileAtomic: the target is either fully replaced or left untouched,
// and no temporary file survives a failure.
#include "toolchain/atomic_file.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/toolchain/scratch_dir.h"
#include "toolchain/serialize.h"

namespace kiln {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  // A test may make the directory read-only; ScratchDir removes it after.
  void TearDown() override { chmod(dir_.c_str(), 0755); }
  std::vector<std::string> Entries() const { return scratch_.Entries(); }
  std::vector<uint8_t> Read(const std::string& path) const {
    std::vector<uint8_t> bytes;
    std::string error;
    EXPECT_TRUE(ReadFileBytes(path, &bytes, &error)) << error;
    return bytes;
  }
  testing::ScratchDir scratch_;
  std::string dir_ = scratch_.path();
};

TEST_F(AtomicFileTest, CreatesAndReplaces) {
  const std::string path = dir_ + "/m.kiln";
  std::string error;
  ASSERT_TRUE(WriteFileAtomic(path, {1, 2, 3}, &error)) << error;
  EXPECT_EQ(Read(path), (std::vector<uint8_t>{1, 2, 3}));
  ASSERT_TRUE(WriteFileAtomic(path, {9, 8}, &error)) << error;
  EXPECT_EQ(Read(path), (std::vector<uint8_t>{9, 8}));
  ASSERT_TRUE(WriteFileAtomic(path, {}, &error)) << error;
  EXPECT_TRUE(Read(path).empty());
  EXPECT_EQ(Entries(), (std::vector<std::string>{"m.kiln"}));  // no temps
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_IRUSR, 0u);
}

TEST_F(AtomicFileTest, RelativePathInTheCurrentDirectory) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  std::string error;
  const bool ok = WriteFileAtomic("rel.kiln", {7}, &error);
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(ok) << error;
  EXPECT_EQ(Read(dir_ + "/rel.kiln"), (std::vector<uint8_t>{7}));
}

TEST_F(AtomicFileTest, PathIsADirectory) {
  const std::string sub = dir_ + "/sub";
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  std::string error;
  EXPECT_FALSE(WriteFileAtomic(sub, {1}, &error));
  EXPECT_NE(error.find("directory"), std::string::npos) << error;
  struct stat st;
  ASSERT_EQ(stat(sub.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(Entries(), (std::vector<std::string>{"sub"}));
  EXPECT_FALSE(WriteFileAtomic(dir_ + "/", {1}, &error));
  EXPECT_FALSE(WriteFileAtomic("", {1}, &error));
}

TEST_F(AtomicFileTest, MissingDirectory) {
  std::string error;
  EXPECT_FALSE(WriteFileAtomic(dir_ + "/no/such/m.kiln", {1}, &error));
  EXPECT_NE(error.find("temporary"), std::string::npos) << error;
  EXPECT_TRUE(Entries().empty());
}

TEST_F(AtomicFileTest, ReadOnlyDirectoryLeavesTargetUnchanged) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const std::string path = dir_ + "/m.kiln";
  std::string error;
  ASSERT_TRUE(WriteFileAtomic(path, {1, 2, 3}, &error)) << error;
  ASSERT_EQ(chmod(dir_.c_str(), 0555), 0);
  EXPECT_FALSE(WriteFileAtomic(path, {4, 5, 6, 7}, &error));
  EXPECT_FALSE(error.empty());
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  EXPECT_EQ(Read(path), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(Entries(), (std::vector<std::string>{"m.kiln"}));
}

TEST_F(AtomicFileTest, FailedWriteLeavesTargetUnchangedAndNoTemp) {
  // A file-size limit makes write() fail part way (EFBIG) for any user,
  // root included: the case a full disk would produce.
  const std::string path = dir_ + "/m.kiln";
  std::string error;
  ASSERT_TRUE(WriteFileAtomic(path, {1, 2, 3}, &error)) << error;
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 1000;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const bool ok =
      WriteFileAtomic(path, std::vector<uint8_t>(5000, 0xAB), &error);
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("cannot write"), std::string::npos) << error;
  EXPECT_EQ(Read(path), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(Entries(), (std::vector<std::string>{"m.kiln"}));
}

}  // namespace
}  // namespace kiln
