#include "common/bounded_json.h"

namespace porthole {

nlohmann::json ParseBoundedJson(std::string_view text, int max_depth) {
  using json = nlohmann::json;
  bool too_deep = false;
  auto callback = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth)
      too_deep = true;
    return !too_deep;  // past the limit nothing more is kept
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    return json(json::value_t::discarded);
  }
  if (too_deep) return json(json::value_t::discarded);
  return j;
}

}  // namespace porthole
