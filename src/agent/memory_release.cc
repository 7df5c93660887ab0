#include "agent/memory_release.h"

#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace porthole::agent {
namespace {

int ReleaseReadOnlySegments(struct dl_phdr_info* info, size_t, void* data) {
  auto* released = static_cast<ReleasedMemory*>(data);
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_W) != 0) continue;
    // Whole pages inside the segment only: a page shared with a writable
    // segment may hold data written since start-up.
    const uintptr_t start = info->dlpi_addr + segment.p_vaddr;
    const uintptr_t end = start + segment.p_filesz;
    const uintptr_t first = (start + page - 1) & ~(page - 1);
    const uintptr_t last = end & ~(page - 1);
    if (last <= first) continue;
    if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) == 0)
      released->code_bytes += last - first;
  }
  return 1;  // the first object is the executable itself: stop there
}

}  // namespace

ReleasedMemory ReleaseUnusedMemory() {
  ReleasedMemory released;
  ::dl_iterate_phdr(ReleaseReadOnlySegments, &released);
  released.heap_trimmed = ::malloc_trim(0) != 0;
  return released;
}

}  // namespace porthole::agent
