// The per-environment list of open pollers, so that the addon's own socket I/O functions (sys.recv/send/accept,
// the net functions) can tell a poller that a socket hit "would block" — the signal that re-arms an edge-triggered
// registration (see SockState's edge fields in poller.cc). No process-global state: Init creates one Registry per
// environment (main thread, each worker), hands it to the functions as their callback data, and it lives until the
// last of the environment's cleanup hook and its pollers lets go of it. Touched by the JS thread only.
#pragma once

#include <unordered_set>

#include "win.h"

namespace fdloop_iocp {

struct Core;

struct Registry {
  std::unordered_set<Core*> cores;
  int refs = 1;  // the environment's own reference, dropped by its cleanup hook; each open Core holds one more
};

/** Drop one reference; frees the registry with the last. */
inline void ReleaseRegistry(Registry* r) {
  if (--r->refs == 0) delete r;
}

// Directions of a would-block, for NoteWouldBlock.
constexpr int kBlockedRead = 1;
constexpr int kBlockedWrite = 2;

/**
 * A backend I/O function saw WSAEWOULDBLOCK on `sock` (reading: kBlockedRead, writing: kBlockedWrite): every
 * edge-triggered registration of that socket in this environment's pollers is re-armed for that direction.
 */
void NoteWouldBlock(Registry* registry, SOCKET sock, int direction);

}  // namespace fdloop_iocp
