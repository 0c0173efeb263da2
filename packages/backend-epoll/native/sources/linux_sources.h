// Linux kernel objects behind the event sources: timerfd, signalfd, inotify, pidfd, fanotify, and an OwnedFd class
// that closes a source's descriptor (and releases its signal block) on close() or when garbage-collected or when
// the environment is torn down. Every function returns a non-negative result or -errno; src/sources/*.ts builds
// the ErrnoErrors.
#pragma once

#include <napi.h>

namespace fdloop::sources {

// The `sources` object of the addon: the functions, `OwnedFd`, and a `constants` object (IN_*, FAN_*, clocks)
// taken from the kernel headers the addon was compiled against.
Napi::Object CreateSources(Napi::Env env);

}  // namespace fdloop::sources
