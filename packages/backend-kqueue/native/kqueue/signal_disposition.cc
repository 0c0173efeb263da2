#include "kqueue/signal_disposition.h"

#include <signal.h>

#include <cerrno>
#include <mutex>

#ifdef FDLOOP_KQUEUE_EMULATION
#include "kqueue_emu.h"
#endif

namespace fdloop::kqueue {

namespace {

// Large enough for every signal number of the supported systems (NSIG is 32 on macOS, 129 on FreeBSD, 65 on Linux).
constexpr int kMaxSignal = 256;

struct Table {
  std::mutex mutex;
  int references[kMaxSignal] = {};
  struct sigaction saved[kMaxSignal];
};

// Never destroyed: a worker thread may still unsubscribe while the process exits.
Table& GetTable() {
  static Table* table = new Table();
  return *table;
}

// Whether the disposition is still the one SignalSubscribe set.
bool IsOurs(const struct sigaction& action) {
#ifdef FDLOOP_KQUEUE_EMULATION
  // The Linux test emulation stands in for "ignored" with a counting handler while it has a knote for the signal
  // (see test/emulation/README.md); that counts as ours too.
  if (kqueue_emu_is_signal_handler(&action)) return true;
#endif
  return (action.sa_flags & SA_SIGINFO) == 0 && action.sa_handler == SIG_IGN;
}

}  // namespace

int SignalSubscribe(int signo) {
  if (signo <= 0 || signo >= kMaxSignal) return -EINVAL;
  Table& table = GetTable();
  std::lock_guard<std::mutex> lock(table.mutex);
  if (table.references[signo] == 0 && signo != SIGCHLD) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    if (sigaction(signo, &ignore, &table.saved[signo]) != 0) return -errno;
  }
  table.references[signo] += 1;
  return 0;
}

void SignalUnsubscribe(int signo) {
  if (signo <= 0 || signo >= kMaxSignal) return;
  Table& table = GetTable();
  std::lock_guard<std::mutex> lock(table.mutex);
  if (table.references[signo] == 0) return;
  table.references[signo] -= 1;
  if (table.references[signo] > 0 || signo == SIGCHLD) return;
  struct sigaction current {};
  // Restored only if still ours: a disposition someone set meanwhile (process.on() after the subscription) wins.
  // Failures are ignored on purpose: there is nobody to report to, and the signal then merely stays ignored.
  if (sigaction(signo, nullptr, &current) == 0 && IsOurs(current)) (void)sigaction(signo, &table.saved[signo], nullptr);
}

}  // namespace fdloop::kqueue
