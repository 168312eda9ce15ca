#include "support/fixtures.h"

#include <cstdlib>

#include "common/mapped_file.h"

namespace vlac::test {

std::string fixtures_dir() {
  const char* env = std::getenv("VLAC_FIXTURES");
  if (env && *env) return env;
  return VLAC_FIXTURES_DEFAULT;
}

std::string fixture_path(const std::string& relative) { return join_path(fixtures_dir(), relative); }

json read_fixture_json(const std::string& relative) {
  return json::parse(read_text_file(fixture_path(relative)));
}

}  // namespace vlac::test
