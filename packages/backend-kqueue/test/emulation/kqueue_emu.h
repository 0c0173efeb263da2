// A small, test-only emulation of the BSD kqueue API on Linux, so that this repository's CI (Linux only) can
// compile and run @fdloop/backend-kqueue's poller code. It is NOT a kqueue implementation for production use and
// is never part of the published package (test/ is outside the package's `files`).
//
// What it provides is exactly what the backend uses, with the semantics of kqueue(2) as documented by FreeBSD and
// macOS: kqueue(), kevent() with a changelist and an eventlist, the filters EVFILT_READ, EVFILT_WRITE,
// EVFILT_EXCEPT (NOTE_OOB), EVFILT_TIMER, EVFILT_USER, EVFILT_VNODE, EVFILT_PROC (NOTE_EXIT) and EVFILT_SIGNAL, and the
// flags EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_CLEAR, EV_ONESHOT,
// EV_DISPATCH, EV_RECEIPT, EV_EOF and EV_ERROR. The structure layout and constant values are macOS's (FreeBSD
// numbers some filters differently); nothing outside the emulation depends on the numbers.
//
// How it works and where it differs from a real kqueue is in README.md next to this file.
#pragma once
// It stands in for the system header <sys/event.h> and is treated like one (the function kevent() shares the
// name of struct kevent, as in the real header, which -Wshadow would otherwise flag).
#pragma GCC system_header

#include <signal.h>
#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident;  // identifier: a descriptor for the read/write/except filters
  int16_t filter;   // EVFILT_*
  uint16_t flags;   // EV_*
  uint32_t fflags;  // filter flags (NOTE_*); for EV_EOF on a socket, the pending socket error
  intptr_t data;    // filter data (bytes readable for EVFILT_READ); the errno of an EV_ERROR receipt
  void* udata;      // opaque user data, returned verbatim
};

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_VNODE (-4)
#define EVFILT_PROC (-5)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER (-7)
#define EVFILT_USER (-10)
#define EVFILT_EXCEPT (-15)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

// EVFILT_EXCEPT: out-of-band data is pending on a socket.
#define NOTE_OOB 0x00000002

// EVFILT_USER: trigger the knote; how fflags combine with the knote's (low 24 bits).
#define NOTE_TRIGGER 0x01000000
#define NOTE_FFNOP 0x00000000
#define NOTE_FFAND 0x40000000
#define NOTE_FFOR 0x80000000
#define NOTE_FFCOPY 0xc0000000
#define NOTE_FFCTRLMASK 0xc0000000
#define NOTE_FFLAGSMASK 0x00ffffff

// EVFILT_TIMER: the unit of data (milliseconds without one of these).
#define NOTE_SECONDS 0x00000001
#define NOTE_USECONDS 0x00000002
#define NOTE_NSECONDS 0x00000004

// EVFILT_VNODE: what happened to the file or directory.
#define NOTE_DELETE 0x00000001
#define NOTE_WRITE 0x00000002
#define NOTE_EXTEND 0x00000004
#define NOTE_ATTRIB 0x00000008
#define NOTE_LINK 0x00000010
#define NOTE_RENAME 0x00000020
#define NOTE_REVOKE 0x00000040

// EVFILT_PROC: the process exited; with NOTE_EXITSTATUS (macOS: for a child only), data is its wait status.
#define NOTE_EXIT 0x80000000
#define NOTE_EXITSTATUS 0x04000000

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent* kev_ = (kevp);      \
    kev_->ident = (a);                 \
    kev_->filter = (b);                \
    kev_->flags = (c);                 \
    kev_->fflags = (d);                \
    kev_->data = (e);                  \
    kev_->udata = (f);                 \
  } while (0)

// A new emulated kqueue: a real, pollable descriptor (an epoll instance), closed with close(2). -1 and errno on
// failure.
int kqueue(void);

// kevent(2): applies `changelist`, then (unless a change produced an error or a receipt) waits up to `timeout`
// (null: forever) for events and stores up to `nevents` of them. Returns the number stored, or -1 with errno.
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist, int nevents,
           const struct timespec* timeout);

// Emulation only (no kqueue has it): whether `action` is the handler the emulation installs while it watches a
// signal. The backend's test build uses it to recognise that disposition as "still ignored".
int kqueue_emu_is_signal_handler(const struct sigaction* action);
