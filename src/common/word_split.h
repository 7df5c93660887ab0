#pragma once
// Splits an ECS Exec "command" string into argv words, with the rules of
// Python's shlex.split(s) (posix=True, comments=False):
//  - space, tab, CR and LF separate words; nothing else does;
//  - '...' is literal;
//  - "..." is literal except that a backslash escapes '"' and '\' (before
//    any other character the backslash is kept: "a\$b" is a\$b);
//  - outside quotes a backslash makes the next character literal, newline
//    included ('a\<LF>b' is one word "a<LF>b");
//  - quotes and escapes join with adjacent text ("a"'b'c is abc), and an
//    empty quoted string is an empty word;
//  - no globbing, variables, operators or comments: '|', '&&', ';', '>',
//    '$HOME' and '#' are ordinary characters.
// The result is what is exec'd directly; there is no shell in between.
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace porthole {

// Empty or whitespace-only input gives no words. An unterminated quote gives
// InvalidParameterException "No closing quotation"; a backslash at the end of
// input (inside double quotes or not) gives "No escaped character" (the
// texts of Python's ValueError).
Result<std::vector<std::string>> SplitCommandLine(std::string_view command);

}  // namespace porthole
