#include "common/word_split.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace porthole {
namespace {

struct SplitCase {
  std::string input;
  std::vector<std::string> words;
};

// Expectations produced by Python 3.11: shlex.split(input).
const SplitCase kPythonShlexCases[] = {
    {"", {}},
    {"   ", {}},
    {" \t\r\n ", {}},
    {"ls", {"ls"}},
    {"ls -la /tmp", {"ls", "-la", "/tmp"}},
    {"  leading and   trailing  ", {"leading", "and", "trailing"}},
    {"echo 'hello world'", {"echo", "hello world"}},
    {"echo \"hello world\"", {"echo", "hello world"}},
    {"a'b c'd", {"ab cd"}},
    {"a\"b c\"d", {"ab cd"}},
    {"'a'\"b\"c", {"abc"}},
    {"''", {""}},
    {"\"\"", {""}},
    {"a '' b", {"a", "", "b"}},
    {"x \"\" \"\"", {"x", "", ""}},
    {"a''", {"a"}},
    {"echo \"a\\\"b\"", {"echo", "a\"b"}},
    {"echo \"a\\\\b\"", {"echo", "a\\b"}},
    {"echo \"a\\$b\"", {"echo", "a\\$b"}},
    {"echo \"a\\`b\"", {"echo", "a\\`b"}},
    {"echo \"a\\nb\"", {"echo", "a\\nb"}},
    {"\"a\\\nb\"", {"a\\\nb"}},
    {"echo 'a\\b'", {"echo", "a\\b"}},
    {"a\\ b", {"a b"}},
    {"\\'", {"'"}},
    {"\\\"", {"\""}},
    {"\\\\", {"\\"}},
    {"a\\\nb", {"a\nb"}},
    {"\\x\\y", {"xy"}},
    {"cat /etc/passwd | grep root", {"cat", "/etc/passwd", "|", "grep", "root"}},
    {"true && false || echo x", {"true", "&&", "false", "||", "echo", "x"}},
    {"a;b ; c", {"a;b", ";", "c"}},
    {"echo >out 2>&1", {"echo", ">out", "2>&1"}},
    {"echo $HOME ${PATH} `id` $(id)", {"echo", "$HOME", "${PATH}", "`id`", "$(id)"}},
    {"ls *.txt ?", {"ls", "*.txt", "?"}},
    {"echo #not a comment", {"echo", "#not", "a", "comment"}},
    {"a#b # c", {"a#b", "#", "c"}},
    {"sh -c 'echo $0; exit 3'", {"sh", "-c", "echo $0; exit 3"}},
    {"bash -lc \"cd /app && exec ./run --flag=\\\"x y\\\"\"", {"bash", "-lc", "cd /app && exec ./run --flag=\"x y\""}},
    {"tab\tsep", {"tab", "sep"}},
    {"vt\013ff\014", {"vt\013ff\014"}},
    {"héllo wörld 日本", {"héllo", "wörld", "日本"}},
    {"--opt=value", {"--opt=value"}},
    {"a\"b'c'd\"e", {"ab'c'de"}},
    {"'\"'", {"\""}},
    {"\"'\"", {"'"}},
    {"python3 -c 'import sys; print(sys.argv)' a b", {"python3", "-c", "import sys; print(sys.argv)", "a", "b"}},
};

TEST(SplitCommandLineTest, MatchesPythonShlexSplit) {
  for (const SplitCase& c : kPythonShlexCases) {
    Result<std::vector<std::string>> words = SplitCommandLine(c.input);
    ASSERT_TRUE(words.ok()) << "input: " << c.input << " error: " << words.error().message;
    EXPECT_EQ(*words, c.words) << "input: " << c.input;
  }
}

struct ErrorCase {
  std::string input;
  std::string message;
};

// Python's shlex.split raises ValueError with these messages.
const ErrorCase kPythonShlexErrors[] = {
    {"echo 'a\\''", "No closing quotation"}, {"'abc", "No closing quotation"},
    {"\"abc", "No closing quotation"},       {"abc\\", "No escaped character"},
    {"\"abc\\", "No escaped character"},     {"a 'b\\", "No closing quotation"},
    {"echo \"it's", "No closing quotation"}, {"echo 'it\"s", "No closing quotation"},
};

TEST(SplitCommandLineTest, RejectsWhatPythonShlexRejects) {
  for (const ErrorCase& c : kPythonShlexErrors) {
    Result<std::vector<std::string>> words = SplitCommandLine(c.input);
    ASSERT_FALSE(words.ok()) << "input: " << c.input;
    EXPECT_EQ(words.error().code, "InvalidParameterException") << "input: " << c.input;
    EXPECT_EQ(words.error().message, c.message) << "input: " << c.input;
  }
}

TEST(SplitCommandLineTest, NulIsAnOrdinaryCharacter) {
  // shlex.split("a\x00b c") == ['a\x00b', 'c']
  Result<std::vector<std::string>> words = SplitCommandLine(std::string("a\0b c", 5));
  ASSERT_TRUE(words.ok());
  EXPECT_EQ(*words, (std::vector<std::string>{std::string("a\0b", 3), "c"}));
}

TEST(SplitCommandLineTest, LongInputIsLinear) {
  std::string input;
  for (int i = 0; i < 100000; ++i) input += "'w' ";
  Result<std::vector<std::string>> words = SplitCommandLine(input);
  ASSERT_TRUE(words.ok());
  EXPECT_EQ(words->size(), 100000u);
}

}  // namespace
}  // namespace porthole
