#pragma once
// What the exec agent gives back to the kernel when it is quiet.
//
// The agent is one static executable. Starting up, dialling and setting up a
// session run code spread across all of it, and the kernel maps file pages
// around each fault (64 KiB at a time), so after one session nearly the whole
// executable is mapped and counted in the agent's RSS, though an idle agent
// or a running session needs a small part of it. The pages stay in the page
// cache, shared by every agent of the node (one file, bind-mounted); what runs
// next faults back in from memory, not from disk, at a few microseconds per
// 64 KiB.
#include <cstddef>

namespace porthole::agent {

struct ReleasedMemory {
  size_t code_bytes = 0;  // of the executable's read-only segments, unmapped
  bool heap_trimmed = false;
};

// Unmaps the executable's never-written segments (code, read-only data; never
// a writable segment, so nothing is lost: RELRO data lives in the writable
// one) and returns free heap to the kernel. Safe at any time, since the pages
// fault back in from the file.
ReleasedMemory ReleaseUnusedMemory();

}  // namespace porthole::agent
