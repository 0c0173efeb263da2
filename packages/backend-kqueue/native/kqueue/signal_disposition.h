// Signal subscriptions of the kqueue backend: the coexistence rule of the epoll backend (while a runtime is
// subscribed to a signal, the runtime receives it, and neither Node's own process.on() listeners nor the signal's
// default action run), reached the kqueue way. EVFILT_SIGNAL "records all attempts to deliver a signal to a process,
// even if the signal has been marked as SIG_IGN" (kqueue(2)), and it does not consume the signal, so the
// subscription sets the disposition to SIG_IGN and puts the previous one back when the last subscription of that
// signal ends.
//
// This is the addon's one piece of process-wide state: a signal's disposition is process state, so a per-signal
// reference count and the saved disposition (guarded by a mutex) are unavoidable. It holds no JS values.
#pragma once

namespace fdloop::kqueue {

// Ignores `signo` (first subscription) or adds a reference. Returns 0 or -errno (-EINVAL for a signal that cannot
// be ignored). SIGCHLD is left alone: ignoring it would make the kernel reap children itself (libuv's child
// handling depends on it) and kqueue does not record an ignored SIGCHLD.
int SignalSubscribe(int signo);

// Drops a reference; the last one restores the saved disposition, unless someone changed it meanwhile (then theirs
// stays).
void SignalUnsubscribe(int signo);

}  // namespace fdloop::kqueue
