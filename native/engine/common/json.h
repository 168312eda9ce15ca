// The engine's JSON library is nlohmann/json (vendored in native/third_party).
#pragma once

#include <nlohmann/json.hpp>

namespace vlac {
using json = nlohmann::json;
}
