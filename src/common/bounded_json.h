#pragma once
// JSON from a peer, bounded in depth. nlohmann::json parses and destroys any
// depth without recursion, but copies, compares and serializes with one stack
// frame per level: a request of "[[[[...]]]]" would overflow the stack
// wherever it is later copied or dumped. Our documents nest a few levels.
#include <nlohmann/json.hpp>
#include <string_view>

namespace porthole {

inline constexpr int kMaxPeerJsonDepth = 64;

// As nlohmann::json::parse(text, nullptr, false): a discarded value when
// `text` is not JSON, or when its arrays and objects nest deeper than
// `max_depth`. Never throws.
nlohmann::json ParseBoundedJson(std::string_view text, int max_depth = kMaxPeerJsonDepth);

}  // namespace porthole
