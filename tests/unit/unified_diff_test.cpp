#include <gtest/gtest.h>

#include "engine/unified_diff.h"

namespace qharden {
namespace {

struct DiffCase {
  const char* name;
  const char* before;
  const char* after;
  const char* expected;
};

class UnifiedDiff : public ::testing::TestWithParam<DiffCase> {};

TEST_P(UnifiedDiff, MatchesDiffU) {
  const DiffCase& test_case = GetParam();
  EXPECT_EQ(unified_diff("/etc/f", test_case.before, test_case.after), test_case.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, UnifiedDiff,
    ::testing::Values(
        DiffCase{"equal", "a\nb\n", "a\nb\n", ""},
        DiffCase{"one line changed", "1\n2\n3\n4\n5\n6\n7\n8\n9\n",
                 "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n",
                 "--- /etc/f\n+++ /etc/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n"},
        DiffCase{"line added at end", "a\n", "a\nb\n",
                 "--- /etc/f\n+++ /etc/f\n@@ -1,1 +1,2 @@\n a\n+b\n"},
        DiffCase{
            "no newline at end", "a", "b",
            "--- /etc/f\n+++ /etc/f\n@@ -1,1 +1,1 @@\n-a\n\\ No newline at end of file\n+b\n\\ "
            "No newline at end of file\n"},
        DiffCase{
            "two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
            "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\nY\n",
            "--- /etc/f\n+++ /etc/f\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n "
            "10\n 11\n-12\n+Y\n"}),
    [](const ::testing::TestParamInfo<DiffCase>& parameter) {
      std::string name = parameter.param.name;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

TEST(UnifiedDiffCreate, NewFileComesFromDevNull) {
  EXPECT_EQ(unified_diff("/etc/sysctl.d/99-qharden.conf", "", "a = 1\n", false),
            "--- /dev/null\n+++ /etc/sysctl.d/99-qharden.conf\n@@ -0,0 +1,1 @@\n+a = 1\n");
}

}  // namespace
}  // namespace qharden
