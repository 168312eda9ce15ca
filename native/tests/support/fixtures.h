// Where the shared golden fixtures are, and small helpers to read them in tests.
#pragma once

#include <string>

#include "common/json.h"

namespace vlac::test {

// $VLAC_FIXTURES, else ../shared/fixtures beside the source tree (set by CMake).
std::string fixtures_dir();
std::string fixture_path(const std::string& relative);
json read_fixture_json(const std::string& relative);

}  // namespace vlac::test
