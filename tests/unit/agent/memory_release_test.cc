#include "agent/memory_release.h"

#include <gtest/gtest.h>
#include <link.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace porthole::agent {
namespace {

// Written after start-up: it lives in a writable segment, which the release
// must leave alone.
int written_at_run_time = 0;
const char kReadOnlyText[] = "read-only data of the test program";

std::string ExecutablePath() {
  char path[4096];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : "";
}

// KiB of the executable's non-writable mappings now resident in this process.
long ResidentReadOnlyKib() {
  std::ifstream smaps("/proc/self/smaps");
  const std::string exe = ExecutablePath();
  std::string line;
  bool counting = false;
  long kib = 0;
  while (std::getline(smaps, line)) {
    std::istringstream fields(line);
    std::string first;
    fields >> first;
    if (first.find('-') != std::string::npos && first.back() != ':') {  // a mapping's header line
      std::string perms, offset, device, inode, path;
      fields >> perms >> offset >> device >> inode >> path;
      counting = path == exe && perms.find('w') == std::string::npos;
    } else if (counting && first == "Rss:") {
      long value = 0;
      fields >> value;
      kib += value;
    }
  }
  return kib;
}

// Reads one byte of every page of the executable's read-only segments
// (raw memory, red zones between globals included: not for ASan to check).
__attribute__((no_sanitize_address)) int TouchReadOnlySegments(struct dl_phdr_info* info, size_t, void*) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_W) != 0) continue;
    const uintptr_t start = info->dlpi_addr + segment.p_vaddr;
    for (uintptr_t p = start; p < start + segment.p_filesz; p += page) (void)*reinterpret_cast<volatile const char*>(p);
  }
  return 1;
}

TEST(MemoryRelease, UnmapsTheExecutablesReadOnlyPagesAndKeepsWorking) {
  written_at_run_time = 42;
  ::dl_iterate_phdr(TouchReadOnlySegments, nullptr);
  const long before = ResidentReadOnlyKib();
  ASSERT_GT(before, 256) << "the test program's code and data should be resident after touching them";

  const ReleasedMemory released = ReleaseUnusedMemory();
  const long after = ResidentReadOnlyKib();

  EXPECT_GT(released.code_bytes, 0u);
  EXPECT_GE(released.code_bytes / 1024, static_cast<size_t>(before) / 2);
  // The code that runs between the release and the reading faults some back
  // in, 64 KiB around each fault; far from all of it.
  EXPECT_LT(after, before - 64) << "before " << before << " KiB, after " << after << " KiB";
  // What was unmapped comes back from the file unchanged; writable data was kept.
  EXPECT_EQ(std::string(kReadOnlyText), "read-only data of the test program");
  EXPECT_EQ(written_at_run_time, 42);
  // And it is safe to do again at once.
  EXPECT_GT(ReleaseUnusedMemory().code_bytes, 0u);
}

}  // namespace
}  // namespace porthole::agent
