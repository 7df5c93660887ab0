#include "common/word_split.h"

namespace porthole {
namespace {

bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

// Equivalent to shlex.shlex(command, posix=True) with whitespace_split=True
// and no commenters (what shlex.split does), scanning one word at a time.
Result<std::vector<std::string>> SplitCommandLine(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has started (possibly empty, from "" or '')
  size_t i = 0;
  const size_t n = command.size();
  while (i < n) {
    char c = command[i];
    if (IsSeparator(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 >= n) return MakeError("InvalidParameterException", "No escaped character");
      word.push_back(command[i + 1]);
      i += 2;
    } else if (c == '\'') {
      size_t close = command.find('\'', i + 1);
      if (close == std::string_view::npos) return MakeError("InvalidParameterException", "No closing quotation");
      word.append(command.substr(i + 1, close - i - 1));
      i = close + 1;
    } else if (c == '"') {
      ++i;
      for (;;) {
        if (i >= n) return MakeError("InvalidParameterException", "No closing quotation");
        char q = command[i];
        if (q == '"') {
          ++i;
          break;
        }
        if (q == '\\') {
          if (i + 1 >= n) return MakeError("InvalidParameterException", "No escaped character");
          char next = command[i + 1];
          if (next != '"' && next != '\\') word.push_back('\\');
          word.push_back(next);
          i += 2;
        } else {
          word.push_back(q);
          ++i;
        }
      }
    } else {
      word.push_back(c);
      ++i;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace porthole
