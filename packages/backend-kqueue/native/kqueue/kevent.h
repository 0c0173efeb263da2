// <sys/event.h>, or in the Linux test build the emulation from test/emulation (never shipped; see CMakeLists.txt).
#pragma once

#ifdef FDLOOP_KQUEUE_EMULATION
#include "kqueue_emu.h"
#else
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#endif

// Out-of-band data (Interest.PRIORITY) has its own filter on macOS (EVFILT_EXCEPT with NOTE_OOB, since 10.12).
// FreeBSD's kqueue does not report it, so there the backend declares `priority: false`.
#if defined(EVFILT_EXCEPT) && defined(NOTE_OOB)
#define FDLOOP_KQUEUE_HAVE_OOB 1
#else
#define FDLOOP_KQUEUE_HAVE_OOB 0
#endif
