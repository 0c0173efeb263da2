#include "sources/signal_mask.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace fdloop::sources {

namespace {

constexpr int kMaxSignal = 65;

// Process-wide by nature (see the header): reference counts per signal, the helper signal once chosen, and the
// acknowledgement counter the helper handler bumps. Guarded by `g_mutex` except `g_acks`, which handlers touch.
std::mutex g_mutex;
int g_refs[kMaxSignal] = {};
int g_helper = 0;
std::atomic<uint64_t> g_acks{0};

// Runs in whichever thread receives the helper signal. The kernel restores `uc_sigmask` as the thread's mask when
// the handler returns, so editing it here changes that thread's mask for good. Only sigaddset/sigdelset and an
// atomic increment: async-signal-safe.
void HelperHandler(int, siginfo_t* info, void* context) {
  if (info == nullptr || context == nullptr || info->si_code != SI_QUEUE || info->si_pid != getpid()) return;
  const int value = info->si_value.sival_int;
  const int signo = value & 0xff;
  const bool block = (value >> 8) != 0;
  if (signo <= 0 || signo >= kMaxSignal) return;
  auto* uc = static_cast<ucontext_t*>(context);
  if (block) {
    sigaddset(&uc->uc_sigmask, signo);
  } else {
    sigdelset(&uc->uc_sigmask, signo);
  }
  g_acks.fetch_add(1, std::memory_order_release);
}

// Picks a real-time signal nobody handles (searching down from SIGRTMAX) and installs the helper handler on it. It
// stays installed: a helper signal still in flight after a timeout must never meet the default action, which for
// real-time signals ends the process.
int EnsureHelper() {
  if (g_helper != 0) return 0;
  for (int s = SIGRTMAX; s > SIGRTMIN + 4; s--) {
    struct sigaction old {};
    if (sigaction(s, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction action {};
    action.sa_sigaction = HelperHandler;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&action.sa_mask);
    if (sigaction(s, &action, nullptr) != 0) return -errno;
    g_helper = s;
    return 0;
  }
  return -EAGAIN;
}

// The blocked-signal mask of thread `tid` from /proc, or false if the thread is gone.
bool ReadBlocked(pid_t tid, uint64_t* mask) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/status", static_cast<int>(tid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return false;
  char line[256];
  bool found = false;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "SigBlk:", 7) == 0) {
      *mask = std::strtoull(line + 7, nullptr, 16);
      found = true;
      break;
    }
  }
  std::fclose(f);
  return found;
}

bool Has(uint64_t mask, int signo) { return (mask & (uint64_t{1} << (signo - 1))) != 0; }

// Sends the helper signal to `tid` asking it to (un)block `signo`, and waits up to one second for the handler.
// Returns false if the thread could not be reached (it exited, or it blocks the helper signal).
bool Ask(pid_t tid, int signo, bool block) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  info.si_signo = g_helper;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = signo | (block ? 0x100 : 0);
  const uint64_t before = g_acks.load(std::memory_order_acquire);
  if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, g_helper, &info) != 0) return false;
  for (int i = 0; i < 20000; i++) {
    if (g_acks.load(std::memory_order_acquire) != before) return true;
    struct timespec pause = {0, 50000};
    nanosleep(&pause, nullptr);
  }
  return false;
}

// One pass over every other thread. Returns how many threads still have the wrong mask and could not be fixed,
// and sets *changed if any thread was asked.
int Pass(int signo, bool block, bool* changed) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  int unreachable = 0;
  while (struct dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const pid_t tid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (tid <= 0 || tid == self) continue;
    uint64_t mask = 0;
    if (!ReadBlocked(tid, &mask)) continue;
    if (Has(mask, signo) == block) continue;
    if (Has(mask, g_helper)) {
      unreachable++;
      continue;
    }
    *changed = true;
    if (!Ask(tid, signo, block)) {
      uint64_t again = 0;
      if (ReadBlocked(tid, &again) && Has(again, signo) != block) unreachable++;
    }
  }
  closedir(dir);
  return unreachable;
}

// Applies the mask change to this thread and then to all others, repeating while passes still find threads to
// change (threads created during a pass inherit either mask, so a later pass catches them).
int Broadcast(int signo, bool block) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  const int rc = pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &one, nullptr);
  if (rc != 0) return -rc;
  int unreachable = 0;
  for (int attempt = 0; attempt < 8; attempt++) {
    bool changed = false;
    unreachable = Pass(signo, block, &changed);
    if (unreachable < 0) return -EIO;
    if (!changed) break;
  }
  return unreachable == 0 ? 0 : -EAGAIN;
}

}  // namespace

int SignalSubscribe(int signo) {
  if (signo <= 0 || signo >= kMaxSignal || signo == SIGKILL || signo == SIGSTOP) return -EINVAL;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_refs[signo] > 0) {
    g_refs[signo]++;
    return 0;
  }
  const int helper = EnsureHelper();
  if (helper < 0) return helper;
  if (signo == g_helper) return -EINVAL;
  const int rc = Broadcast(signo, true);
  if (rc < 0) {
    (void)Broadcast(signo, false);
    return rc;
  }
  g_refs[signo] = 1;
  return 0;
}

void SignalUnsubscribe(int signo) {
  if (signo <= 0 || signo >= kMaxSignal) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_refs[signo] <= 0) return;
  if (--g_refs[signo] > 0) return;
  // This thread still blocks it, so sigtimedwait can take what is pending for the process (and this thread).
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  pthread_sigmask(SIG_BLOCK, &one, nullptr);
  struct timespec zero = {0, 0};
  while (sigtimedwait(&one, nullptr, &zero) == signo) {
  }
  (void)Broadcast(signo, false);
}

}  // namespace fdloop::sources
