// Process-wide blocking of one signal in every thread, so that signalfd receives every process-directed delivery.
//
// A signal sent to a process is delivered to any one thread that does not block it. Node runs many threads (V8
// platform workers, the libuv thread pool, worker_threads) whose masks we do not control, so blocking the signal in
// the subscribing thread alone loses deliveries to the others. SignalSubscribe() blocks the signal in the calling
// thread and then in every other thread of the process: each is sent a helper real-time signal whose handler adds
// the signal to the mask the kernel restores on return (`uc_sigmask`). Threads created afterwards inherit the
// block from their creator. SignalUnsubscribe() undoes it when the last subscription of that signal closes.
//
// This is the addon's one piece of process-wide state: signal dispositions and the set of threads are process
// state, so a per-signal reference count (guarded by a mutex) is unavoidable. It holds no JS values.
#pragma once

namespace fdloop::sources {

// Blocks `signo` everywhere (first subscription) or adds a reference. Returns 0, or -errno: -EINVAL for a signal
// that cannot be blocked, -EAGAIN when some thread could not be reached (nothing is left blocked then).
int SignalSubscribe(int signo);

// Drops a reference; the last one unblocks `signo` everywhere after discarding deliveries still pending for it
// (with no subscriber left they would otherwise run the default action, which for most signals ends the process).
void SignalUnsubscribe(int signo);

}  // namespace fdloop::sources
