// The engine's per-call memory (issue 19): the per-thread workspace and mapped PageBuffers.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <vector>

#include "common/page_buffer.h"
#include "common/workspace.h"

using vlac::PageBuffer;
using vlac::WorkspaceScope;
using vlac::workspace_block_bytes;

namespace {

bool disjoint(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x + a_bytes <= y || y + b_bytes <= x;
}

// One "call": an outer scope with two buffers and an inner scope with one, each filled.
std::vector<const void*> one_call(size_t floats) {
  WorkspaceScope outer;
  float* a = outer.take<float>(floats);
  float* b = outer.take<float>(floats);
  std::fill(a, a + floats, 1.0f);
  std::fill(b, b + floats, 2.0f);
  const void* c_at;
  {
    WorkspaceScope inner;
    float* c = inner.take<float>(floats);
    std::fill(c, c + floats, 3.0f);
    CHECK(disjoint(c, floats * 4, a, floats * 4));
    CHECK(disjoint(c, floats * 4, b, floats * 4));
    c_at = c;
  }
  CHECK(a[floats - 1] == 1.0f);  // the inner scope wrote only its own buffer
  CHECK(b[0] == 2.0f);
  CHECK(disjoint(a, floats * 4, b, floats * 4));
  CHECK(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  CHECK(reinterpret_cast<uintptr_t>(b) % 64 == 0);
  return {a, b, c_at};
}

}  // namespace

TEST_CASE("a thread's workspace grows to a call's demand once, then serves the same call from the kept block") {
  std::thread([] {
    CHECK(workspace_block_bytes() == 0);  // every thread starts with none of its own
    const size_t floats = 100000;         // 400 kB per buffer: over glibc's initial mmap threshold
    one_call(floats);
    const size_t kept = workspace_block_bytes();
    CHECK(kept >= 3 * floats * sizeof(float));
    const auto first = one_call(floats);
    const auto second = one_call(floats);
    CHECK(first == second);  // the same addresses: nothing was allocated for the later calls
    CHECK(workspace_block_bytes() == kept);
    one_call(floats / 10);  // a smaller call keeps the block
    CHECK(workspace_block_bytes() == kept);
  }).join();
}

TEST_CASE("a demand over the kept block is served in full, and the next call gets one block for it all") {
  std::thread([] {
    one_call(1000);
    const size_t small = workspace_block_bytes();
    one_call(300000);
    CHECK(workspace_block_bytes() > small);
    CHECK(workspace_block_bytes() >= 3 * 300000 * sizeof(float));
    const auto a = one_call(300000);
    CHECK(a == one_call(300000));
  }).join();
}

TEST_CASE("a PageBuffer maps what it is asked for and hands it over on a move") {
  PageBuffer none(0);
  CHECK(none.empty());
  CHECK(none.data() == nullptr);
  PageBuffer b(3 << 20);
  REQUIRE(b.size() == size_t{3} << 20);
  CHECK(reinterpret_cast<uintptr_t>(b.data()) % 64 == 0);
  std::memset(b.data(), 7, b.size());
  uint8_t* at = b.data();
  PageBuffer moved(std::move(b));
  CHECK(b.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  CHECK(moved.data() == at);
  CHECK(moved.data()[moved.size() - 1] == 7);
  moved = PageBuffer(64);
  CHECK(moved.size() == 64);
}

namespace {

size_t open_fds() {
  size_t n = 0;
  for (int fd = 0; fd < 4096; ++fd) n += fcntl(fd, F_GETFD) != -1;
  return n;
}

}  // namespace

TEST_CASE("a shareable buffer keeps the kept ranges, and its copy-on-write views read them and write their own pages") {
  const size_t page = 4096, bytes = 64 * page;
  const size_t fds = open_fds();
  {
    PageBuffer owner(bytes);
    for (size_t i = 0; i < bytes; ++i) owner.data()[i] = static_cast<uint8_t>(i * 7 + 1);
    if (!PageBuffer::sharing_supported()) {
      CHECK_FALSE(owner.make_shareable({{0, bytes}}));
      CHECK(owner.data()[5] == 36);  // unchanged: the caller copies instead
      return;
    }
    // Kept: pages 0-3 and half of page 10; the rest of the file reads as zero.
    REQUIRE(owner.make_shareable({{0, 4 * page}, {10 * page, page / 2}}));
    CHECK(owner.shareable());
    CHECK(owner.data()[3 * page + 11] == static_cast<uint8_t>((3 * page + 11) * 7 + 1));
    CHECK(owner.data()[10 * page + 5] == static_cast<uint8_t>((10 * page + 5) * 7 + 1));
    CHECK(owner.data()[10 * page + page / 2] == 0);
    CHECK(owner.data()[20 * page] == 0);
    CHECK(owner.make_shareable({}));  // already shared: nothing moves

    PageBuffer a = owner.copy_on_write_view(), b = owner.copy_on_write_view();
    CHECK(std::memcmp(a.data(), owner.data(), 4 * page) == 0);
    a.data()[100] = 0xAB;    // a's own copy of page 0
    b.data()[5 * page] = 9;  // b's own copy of page 5
    CHECK(owner.data()[100] == static_cast<uint8_t>(100 * 7 + 1));
    CHECK(b.data()[100] == static_cast<uint8_t>(100 * 7 + 1));
    CHECK(owner.data()[5 * page] == 0);
    CHECK(a.data()[5 * page] == 0);
    // The owner appending after the views were made: a view sees it on pages it has not written.
    owner.data()[30 * page] = 5;
    CHECK(a.data()[30 * page] == 5);
    CHECK(a.data()[100] == 0xAB);  // its own page stays its own

    // A view made shareable becomes an owner of its own: its bytes, not the first owner's file.
    REQUIRE(a.make_shareable({{0, page}}));
    PageBuffer c = a.copy_on_write_view();
    CHECK(c.data()[100] == 0xAB);
    owner = PageBuffer();  // the first file lives on while b maps it
    CHECK(b.data()[3 * page + 11] == static_cast<uint8_t>((3 * page + 11) * 7 + 1));
  }
  CHECK(open_fds() == fds);  // every file closed with its last owner
}
