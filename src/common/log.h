#pragma once
// Line-oriented logging to stderr. Never pass secrets (keys, tokens,
// signatures) to these functions: logs are readable by operators.
#include <string_view>

namespace porthole::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
void SetProgram(std::string_view name);
void Write(Level level, std::string_view message);

inline void Debug(std::string_view m) { Write(Level::kDebug, m); }
inline void Info(std::string_view m) { Write(Level::kInfo, m); }
inline void Warn(std::string_view m) { Write(Level::kWarn, m); }
inline void Error(std::string_view m) { Write(Level::kError, m); }

}  // namespace porthole::log
