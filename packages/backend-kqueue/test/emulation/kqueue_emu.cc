// Test-only kqueue emulation over epoll: see kqueue_emu.h and README.md in this directory.
#include "kqueue_emu.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

// epoll data of a kqueue's anchor eventfd (see Kq); descriptor sources use the descriptor number as data.
constexpr uint64_t kAnchorTag = uint64_t{1} << 63;
// epoll data of the internal descriptor of a source knote (timerfd, pidfd, inotify): this tag | the knote's serial.
constexpr uint64_t kSourceTag = uint64_t{1} << 62;

// Knote slots of a descriptor source.
enum Slot { kRead = 0, kWrite = 1, kExcept = 2, kSlots = 3 };

constexpr uint16_t kModeFlags = EV_CLEAR | EV_ONESHOT | EV_DISPATCH;

struct Knote {
  uintptr_t ident = 0;
  int16_t filter = 0;
  uint16_t mode = 0;  // EV_CLEAR | EV_ONESHOT | EV_DISPATCH, fixed when the knote is created (as in FreeBSD)
  uint32_t sfflags = 0;
  intptr_t sdata = 0;
  void* udata = nullptr;
  bool disabled = false;
  bool queued = false;
  // The report waiting in the queue.
  uint16_t out_flags = 0;
  uint32_t out_fflags = 0;
  intptr_t out_data = 0;
  // Source filters (timer, user, proc, vnode, signal): the internal descriptor that stands for the kernel object
  // (timerfd, pidfd, inotify instance, a pooled eventfd for signals; -1 for EVFILT_USER), registered in the epoll set with
  // kSourceTag | serial.
  int internal = -1;
  uint64_t serial = 0;
  bool triggered = false;  // EVFILT_USER
  nlink_t last_nlink = 0;  // EVFILT_VNODE: NOTE_LINK and NOTE_DELETE are derived from the link count
  off_t last_size = 0;     // EVFILT_VNODE: NOTE_EXTEND

  uint64_t last_signals = 0;  // EVFILT_SIGNAL: the process-wide count when last looked at

  ~Knote();
};


// EVFILT_SIGNAL. kqueue records every attempt to deliver a signal, even an ignored one, without consuming it.
// Linux drops an ignored signal when it is sent, so the emulation stands in for "ignored" with a handler of its own
// while any knote watches the signal: it counts deliveries (process-wide) and pokes an eventfd per knote; the
// disposition it replaced is put back with the last knote, and is what the handler chains to (a function), does
// nothing for (SIG_IGN) or re-raises for (SIG_DFL). All of this is process state, hence global and locked; the
// handler itself only uses atomics and write(2).
constexpr int kSignals = 65;
constexpr int kSignalSlots = 64;

struct SignalState {
  std::atomic<uint64_t> count{0};
  std::atomic<int> slots[kSignalSlots];
  int knotes = 0;  // under SignalGlobals::mutex
  struct sigaction previous {};
  SignalState() {
    for (auto& slot : slots) slot.store(-1);
  }
};

struct SignalGlobals {
  std::mutex mutex;
  SignalState signals[kSignals];
  // eventfds handed to knotes are never closed, only reused: the handler may still be writing to one that a knote
  // has just given back, and a closed number could meanwhile belong to someone else's file.
  std::vector<int> pool;
};

SignalGlobals& Signals() {
  static SignalGlobals* globals = new SignalGlobals();
  return *globals;
}

void EmulatedSignalHandler(int signo, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  SignalState& state = Signals().signals[signo];
  state.count.fetch_add(1);
  for (auto& slot : state.slots) {
    const int fd = slot.load();
    if (fd < 0) continue;
    const uint64_t one = 1;
    (void)!write(fd, &one, sizeof(one));
  }
  const struct sigaction& previous = state.previous;
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(signo, info, context);
  } else if (previous.sa_handler == SIG_DFL) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(signo, &dfl, nullptr);
    raise(signo);
  } else if (previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signo);
  }
  errno = saved_errno;
}

int AttachSignal(Knote& kn) {
  const int signo = static_cast<int>(kn.ident);
  if (kn.ident >= static_cast<uintptr_t>(kSignals) || signo <= 0 || signo == SIGKILL || signo == SIGSTOP) return EINVAL;
  SignalGlobals& globals = Signals();
  std::lock_guard<std::mutex> lock(globals.mutex);
  SignalState& state = globals.signals[signo];
  int fd = -1;
  if (!globals.pool.empty()) {
    fd = globals.pool.back();
    globals.pool.pop_back();
    uint64_t drop = 0;
    (void)!read(fd, &drop, sizeof(drop));
  } else {
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return errno;
  }
  int free_slot = -1;
  for (int i = 0; i < kSignalSlots && free_slot < 0; ++i) {
    if (state.slots[i].load() < 0) free_slot = i;
  }
  if (free_slot < 0) {
    globals.pool.push_back(fd);
    return ENOMEM;
  }
  if (state.knotes == 0) {
    struct sigaction action {};
    action.sa_sigaction = EmulatedSignalHandler;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(signo, &action, &state.previous) != 0) {
      globals.pool.push_back(fd);
      return errno;
    }
  }
  state.knotes += 1;
  kn.internal = fd;
  kn.last_signals = state.count.load();
  state.slots[free_slot].store(fd);
  return 0;
}

void DetachSignal(Knote& kn) {
  SignalGlobals& globals = Signals();
  std::lock_guard<std::mutex> lock(globals.mutex);
  SignalState& state = globals.signals[kn.ident];
  for (auto& slot : state.slots) {
    if (slot.load() == kn.internal) slot.store(-1);
  }
  globals.pool.push_back(kn.internal);
  kn.internal = -1;
  state.knotes -= 1;
  if (state.knotes > 0) return;
  // Put back what was there, unless the disposition was changed meanwhile (then that change stays).
  struct sigaction current {};
  if (sigaction(static_cast<int>(kn.ident), nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) != 0 &&
      current.sa_sigaction == EmulatedSignalHandler) {
    (void)sigaction(static_cast<int>(kn.ident), &state.previous, nullptr);
  }
}

Knote::~Knote() {
  if (filter == EVFILT_SIGNAL && internal >= 0) DetachSignal(*this);
  if (internal >= 0) close(internal);
}

// The knotes of one descriptor. epoll allows one registration per descriptor and epoll set, so the enabled
// knotes' conditions are OR-ed into one registration.
struct FdSource {
  std::unique_ptr<Knote> knotes[kSlots];
  bool in_epoll = false;

  bool empty() const { return !knotes[kRead] && !knotes[kWrite] && !knotes[kExcept]; }
};

// One emulated kqueue. Its descriptor is an epoll instance (pollable, like a real kqueue descriptor). The anchor
// eventfd is registered in it level-triggered for two reasons: it keeps the descriptor readable while reports are
// queued here that epoll does not know about (a real kqueue is readable while its queue is non-empty), and its
// epoll data carries a cookie that identifies this epoll set in /proc/self/fdinfo (see Alive).
struct Kq {
  int epfd = -1;
  int anchor = -1;
  uint64_t cookie = 0;
  std::mutex mu;
  std::unordered_map<int, FdSource> fds;
  // Knotes of the other filters, by (filter, ident); and by serial for epoll reports of their descriptors.
  std::map<std::pair<int16_t, uintptr_t>, std::unique_ptr<Knote>> others;
  std::unordered_map<uint64_t, Knote*> by_serial;
  uint64_t next_serial = 1;
  std::deque<std::pair<uintptr_t, int16_t>> queue;
  bool anchor_signalled = false;

  ~Kq() {
    // The epoll descriptor belongs to the user (they close it); the anchor is ours.
    if (anchor >= 0) close(anchor);
  }
};

// kevent(2) identifies a kqueue by its descriptor only, so the emulation needs a table from descriptor to state:
// process-global, unlike anything in the backend itself, and locked for worker threads. Never destroyed, so
// threads still running at process exit cannot see it half torn down.
struct Registry {
  std::mutex mu;
  std::unordered_map<int, std::shared_ptr<Kq>> by_fd;
  uint64_t next_cookie = 1;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

// Whether `kq`'s epoll set is still open under its descriptor number. The user closes the descriptor with
// close(2), which the emulation cannot see; the anchor's cookie, listed in the epoll set's fdinfo, tells a live
// set from a closed one whose number was reused.
bool Alive(const Kq& kq) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", kq.epfd);
  FILE* file = std::fopen(path, "re");
  // ENOENT: no such descriptor any more. Any other failure (EMFILE under descriptor pressure) proves nothing, and
  // forgetting a live kqueue would break it, so it counts as alive.
  if (file == nullptr) return errno != ENOENT;
  bool found = false;
  char line[256];
  while (!found && std::fgets(line, sizeof(line), file) != nullptr) {
    int tfd = -1;
    unsigned events = 0;
    unsigned long long data = 0;
    if (std::sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3) {
      found = tfd == kq.anchor && data == (kAnchorTag | kq.cookie);
    }
  }
  std::fclose(file);
  return found;
}

int SlotOf(int16_t filter) {
  switch (filter) {
    case EVFILT_READ:
      return kRead;
    case EVFILT_WRITE:
      return kWrite;
    case EVFILT_EXCEPT:
      return kExcept;
    default:
      return -1;
  }
}

uint32_t EpollBits(int slot) {
  switch (slot) {
    case kRead:
      return EPOLLIN | EPOLLRDHUP;
    case kWrite:
      return EPOLLOUT;
    default:
      return EPOLLPRI;
  }
}

bool IsSocket(int fd) {
  int type = 0;
  socklen_t length = sizeof(type);
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0;
}

// Brings the epoll registration of `fd` in line with its enabled knotes. Returns 0 or an errno value.
int SyncEpoll(Kq& kq, int fd, FdSource& source) {
  uint32_t mask = 0;
  bool edge = false;
  for (int slot = 0; slot < kSlots; ++slot) {
    const Knote* kn = source.knotes[slot].get();
    if (kn == nullptr) continue;
    if (kn->mode & EV_CLEAR) edge = true;
    if (!kn->disabled) mask |= EpollBits(slot);
  }
  if (mask == 0) {
    // Nothing enabled: leave epoll altogether, since epoll reports EPOLLHUP/EPOLLERR even for an empty mask and a
    // level-triggered registration would then report forever.
    if (source.in_epoll) (void)epoll_ctl(kq.epfd, EPOLL_CTL_DEL, fd, nullptr);
    source.in_epoll = false;
    return 0;
  }
  epoll_event event{};
  event.events = mask | (edge ? EPOLLET : 0u);
  event.data.u64 = static_cast<uint64_t>(fd);
  int rc = epoll_ctl(kq.epfd, source.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
  if (rc != 0 && errno == ENOENT && source.in_epoll) rc = epoll_ctl(kq.epfd, EPOLL_CTL_ADD, fd, &event);
  if (rc != 0) return errno;
  source.in_epoll = true;
  return 0;
}

// A real kqueue drops a descriptor's knotes when the descriptor is closed. epoll drops its registration too, but
// the emulation's table cannot see the close: a registration epoll no longer knows means the descriptor was closed
// (and its number maybe reused), so the old knotes go.
void DropIfClosed(Kq& kq, int fd, FdSource& source) {
  if (!source.in_epoll) return;
  epoll_event probe{};
  // A MOD to the same mask is harmless; ENOENT says the file this registration belonged to is gone.
  uint32_t mask = 0;
  bool edge = false;
  for (int slot = 0; slot < kSlots; ++slot) {
    const Knote* kn = source.knotes[slot].get();
    if (kn == nullptr) continue;
    if (kn->mode & EV_CLEAR) edge = true;
    if (!kn->disabled) mask |= EpollBits(slot);
  }
  probe.events = mask | (edge ? EPOLLET : 0u);
  probe.data.u64 = static_cast<uint64_t>(fd);
  if (epoll_ctl(kq.epfd, EPOLL_CTL_MOD, fd, &probe) != 0 && errno == ENOENT) {
    for (auto& kn : source.knotes) kn.reset();
    source.in_epoll = false;
  }
}

// Applies one change. Returns 0 or an errno value, as a receipt's data.
int ApplyOther(Kq& kq, const struct kevent& change);

int Apply(Kq& kq, const struct kevent& change) {
  const int slot = SlotOf(change.filter);
  if (slot < 0) return ApplyOther(kq, change);
  if (change.ident > static_cast<uintptr_t>(INT32_MAX)) return EBADF;
  const int fd = static_cast<int>(change.ident);
  if (fcntl(fd, F_GETFD) < 0) return EBADF;
  const uint16_t flags = change.flags;

  auto found = kq.fds.find(fd);
  if (found != kq.fds.end()) DropIfClosed(kq, fd, found->second);

  if (flags & EV_DELETE) {
    if (found == kq.fds.end() || !found->second.knotes[slot]) return ENOENT;
    found->second.knotes[slot].reset();
    const int rc = SyncEpoll(kq, fd, found->second);
    if (found->second.empty()) kq.fds.erase(found);
    return rc;
  }

  if (flags & EV_ADD) {
    FdSource& source = kq.fds[fd];
    std::unique_ptr<Knote>& kn = source.knotes[slot];
    const bool created = !kn;
    if (created) {
      // The emulation keeps one epoll registration per descriptor, so it cannot mix edge- and level-triggered
      // knotes on one descriptor (a real kqueue can); the backend never does.
      for (int other = 0; other < kSlots; ++other) {
        const Knote* sibling = source.knotes[other].get();
        if (sibling != nullptr && ((sibling->mode ^ flags) & EV_CLEAR) != 0) {
          if (source.empty()) kq.fds.erase(fd);
          return EINVAL;
        }
      }
      kn = std::make_unique<Knote>();
      kn->ident = change.ident;
      kn->filter = change.filter;
      kn->mode = flags & kModeFlags;
    }
    kn->sfflags = change.fflags;
    kn->sdata = change.data;
    kn->udata = change.udata;
    // "Adding an event automatically enables it, unless overridden by the EV_DISABLE flag."
    kn->disabled = (flags & EV_DISABLE) != 0;
    const int rc = SyncEpoll(kq, fd, source);
    if (rc != 0 && created) {
      kn.reset();
      (void)SyncEpoll(kq, fd, source);
      if (source.empty()) kq.fds.erase(fd);
    }
    return rc;
  }

  if (flags & (EV_ENABLE | EV_DISABLE)) {
    if (found == kq.fds.end() || !found->second.knotes[slot]) return ENOENT;
    found->second.knotes[slot]->disabled = (flags & EV_DISABLE) != 0;
    return SyncEpoll(kq, fd, found->second);
  }
  return EINVAL;
}

Knote* FindKnote(Kq& kq, uintptr_t ident, int16_t filter) {
  const int slot = SlotOf(filter);
  if (slot < 0) {
    auto other = kq.others.find({filter, ident});
    return other == kq.others.end() ? nullptr : other->second.get();
  }
  auto found = kq.fds.find(static_cast<int>(ident));
  if (slot < 0 || found == kq.fds.end()) return nullptr;
  return found->second.knotes[slot].get();
}

// Turns one epoll report into queued knote reports.
void Activate(Kq& kq, int fd, uint32_t bits) {
  auto found = kq.fds.find(fd);
  if (found == kq.fds.end()) return;
  FdSource& source = found->second;
  for (int slot = 0; slot < kSlots; ++slot) {
    Knote* kn = source.knotes[slot].get();
    if (kn == nullptr || kn->disabled) continue;
    uint16_t out_flags = 0;
    uint32_t out_fflags = 0;
    intptr_t out_data = 0;
    if (slot == kRead) {
      if ((bits & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) continue;
      int available = 0;
      if (ioctl(fd, FIONREAD, &available) == 0) out_data = available;
      if (bits & (EPOLLRDHUP | EPOLLHUP)) out_flags |= EV_EOF;
      // kqueue puts a socket's pending error in fflags with EV_EOF. Reading SO_ERROR on Linux would clear it
      // before the user sees it, so the emulation reports EIO instead of the real error.
      if ((bits & EPOLLERR) && IsSocket(fd)) {
        out_flags |= EV_EOF;
        out_fflags = EIO;
      }
    } else if (slot == kWrite) {
      if ((bits & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) continue;
      // A pipe whose reader is gone (EPOLLERR) and a socket that can no longer send (EPOLLHUP) are EV_EOF.
      if (bits & (EPOLLERR | EPOLLHUP)) out_flags |= EV_EOF;
      if ((bits & EPOLLERR) && IsSocket(fd)) out_fflags = EIO;
    } else {
      if ((bits & EPOLLPRI) == 0) continue;
      out_fflags = NOTE_OOB;
    }
    kn->out_flags = out_flags;
    kn->out_fflags = out_fflags;
    kn->out_data = out_data;
    if (!kn->queued) {
      kn->queued = true;
      kq.queue.emplace_back(kn->ident, kn->filter);
    }
  }
}

void RemoveOther(Kq& kq, int16_t filter, uintptr_t ident);
int SyncOther(Kq& kq, Knote& kn);

// Moves queued reports into `out`, applying EV_ONESHOT / EV_DISPATCH / EV_CLEAR after each. Returns how many.
int Deliver(Kq& kq, struct kevent* out, int room) {
  int count = 0;
  while (count < room && !kq.queue.empty()) {
    const auto [ident, filter] = kq.queue.front();
    kq.queue.pop_front();
    Knote* kn = FindKnote(kq, ident, filter);
    if (kn == nullptr || !kn->queued) continue;
    kn->queued = false;
    // A knote disabled after it was queued is not returned.
    if (kn->disabled) continue;
    struct kevent& ev = out[count++];
    ev.ident = kn->ident;
    ev.filter = kn->filter;
    ev.flags = static_cast<uint16_t>(EV_ADD | kn->mode | kn->out_flags);
    ev.fflags = kn->out_fflags;
    ev.data = kn->out_data;
    ev.udata = kn->udata;
    if (SlotOf(filter) < 0) {
      // Source knotes report what accumulated since the last retrieval, then start again from zero.
      kn->out_flags = 0;
      kn->out_fflags = 0;
      kn->out_data = 0;
      if (kn->mode & EV_CLEAR) kn->triggered = false;
      if (kn->mode & EV_ONESHOT) {
        RemoveOther(kq, filter, ident);
      } else if (kn->mode & EV_DISPATCH) {
        kn->disabled = true;
        (void)SyncOther(kq, *kn);
      }
      continue;
    }
    const int fd = static_cast<int>(ident);
    if (kn->mode & EV_ONESHOT) {
      auto found = kq.fds.find(fd);
      found->second.knotes[SlotOf(filter)].reset();
      (void)SyncEpoll(kq, fd, found->second);
      if (found->second.empty()) kq.fds.erase(found);
    } else if (kn->mode & EV_DISPATCH) {
      kn->disabled = true;
      (void)SyncEpoll(kq, fd, kq.fds.find(fd)->second);
    }
  }
  return count;
}

void SetAnchor(Kq& kq, bool signalled) {
  if (signalled == kq.anchor_signalled) return;
  if (signalled) {
    const uint64_t one = 1;
    (void)!write(kq.anchor, &one, sizeof(one));
  } else {
    uint64_t value = 0;
    (void)!read(kq.anchor, &value, sizeof(value));
  }
  kq.anchor_signalled = signalled;
}

void ActivateOther(Kq& kq, Knote& kn);

int Scan(Kq& kq, struct kevent* eventlist, int nevents, int timeout_ms) {
  // Level-triggered reports left over from an earlier call are dropped: epoll reports them again if the condition
  // still holds, which is kqueue's "re-check a level knote before returning it". Edge-triggered ones (EV_CLEAR)
  // stay: epoll would not report them again.
  for (auto it = kq.queue.begin(); it != kq.queue.end();) {
    Knote* kn = FindKnote(kq, it->first, it->second);
    if (kn == nullptr || !kn->queued || ((kn->mode & EV_CLEAR) == 0 && SlotOf(kn->filter) >= 0)) {
      if (kn != nullptr) kn->queued = false;
      it = kq.queue.erase(it);
    } else {
      ++it;
    }
  }
  // A triggered EVFILT_USER knote without EV_CLEAR stays triggered: it is reported on every call.
  for (auto& entry : kq.others) {
    Knote& kn = *entry.second;
    if (kn.filter == EVFILT_USER && kn.triggered && !kn.disabled && !kn.queued) {
      kn.queued = true;
      kq.queue.emplace_back(kn.ident, kn.filter);
    }
  }
  int count = Deliver(kq, eventlist, nevents);
  if (count < nevents) {
    std::vector<epoll_event> ready(static_cast<size_t>(nevents - count));
    const int wait = count > 0 ? 0 : timeout_ms;
    int n = 0;
    do {
      n = epoll_wait(kq.epfd, ready.data(), static_cast<int>(ready.size()), wait);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    for (int i = 0; i < n; ++i) {
      const uint64_t data = ready[static_cast<size_t>(i)].data.u64;
      if (data & kAnchorTag) {
        SetAnchor(kq, false);
        continue;
      }
      if (data & kSourceTag) {
        auto found = kq.by_serial.find(data & ~kSourceTag);
        if (found != kq.by_serial.end()) ActivateOther(kq, *found->second);
        continue;
      }
      Activate(kq, static_cast<int>(data), ready[static_cast<size_t>(i)].events);
    }
    count += Deliver(kq, eventlist + count, nevents - count);
  }
  SetAnchor(kq, !kq.queue.empty());
  return count;
}

int64_t TimerNanoseconds(const struct kevent& change) {
  const int64_t value = change.data > 0 ? static_cast<int64_t>(change.data) : 0;
  int64_t ns = 0;
  if (change.fflags & NOTE_NSECONDS) {
    ns = value;
  } else if (change.fflags & NOTE_USECONDS) {
    ns = value * 1000;
  } else if (change.fflags & NOTE_SECONDS) {
    ns = value * 1000000000;
  } else {
    ns = value * 1000000;
  }
  // A zero period fires at once (timerfd would read 0 as "disarm").
  return ns > 0 ? ns : 1;
}

int ArmTimer(Knote& kn, const struct kevent& change) {
  const int64_t ns = TimerNanoseconds(change);
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  // Periodic unless EV_ONESHOT, as kqueue timers are.
  if ((change.flags & EV_ONESHOT) == 0) spec.it_interval = spec.it_value;
  return timerfd_settime(kn.internal, 0, &spec, nullptr) == 0 ? 0 : errno;
}

// Brings a source knote's internal descriptor into the epoll set exactly while the knote is enabled (a disabled
// knote is not reported, but its kernel object keeps counting, as a disabled kqueue timer does).
int SyncOther(Kq& kq, Knote& kn) {
  if (kn.internal < 0) return 0;
  if (kn.disabled) {
    (void)epoll_ctl(kq.epfd, EPOLL_CTL_DEL, kn.internal, nullptr);
    return 0;
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kSourceTag | kn.serial;
  if (epoll_ctl(kq.epfd, EPOLL_CTL_ADD, kn.internal, &event) == 0 || errno == EEXIST) return 0;
  return errno;
}

void RemoveOther(Kq& kq, int16_t filter, uintptr_t ident) {
  auto found = kq.others.find({filter, ident});
  if (found == kq.others.end()) return;
  Knote& kn = *found->second;
  if (kn.internal >= 0) (void)epoll_ctl(kq.epfd, EPOLL_CTL_DEL, kn.internal, nullptr);
  kq.by_serial.erase(kn.serial);
  kq.others.erase(found);  // closes the internal descriptor
}

void Queue(Kq& kq, Knote& kn) {
  if (kn.disabled || kn.queued) return;
  kn.queued = true;
  kq.queue.emplace_back(kn.ident, kn.filter);
}

// The inotify events that stand for each NOTE_* of EVFILT_VNODE (see README.md for how faithful this is).
constexpr uint32_t kInotifyMask = IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_CREATE | IN_DELETE |
                                  IN_MOVED_FROM | IN_MOVED_TO | IN_UNMOUNT;

void ActivateVnode(Kq& kq, Knote& kn) {
  alignas(inotify_event) char buffer[4096];
  uint32_t notes = 0;
  for (;;) {
    const ssize_t n = read(kn.internal, buffer, sizeof(buffer));
    if (n <= 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      const uint32_t mask = event->mask;
      if (mask & IN_MODIFY) notes |= NOTE_WRITE;
      // Entries of a directory created, deleted or moved: the directory was written; a subdirectory changes its
      // link count ("..").
      if (mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) {
        notes |= NOTE_WRITE;
        if (mask & IN_ISDIR) notes |= NOTE_LINK;
      }
      if (mask & IN_ATTRIB) notes |= NOTE_ATTRIB;
      if (mask & IN_DELETE_SELF) notes |= NOTE_DELETE;
      if (mask & IN_MOVE_SELF) notes |= NOTE_RENAME;
      if (mask & IN_UNMOUNT) notes |= NOTE_REVOKE;
    }
  }
  // kqueue says NOTE_DELETE when the file is unlinked; inotify's IN_DELETE_SELF waits until the inode is freed,
  // which our own open descriptor prevents. The link count tells instead (unlink is an IN_ATTRIB).
  struct stat st {};
  if (fstat(static_cast<int>(kn.ident), &st) == 0) {
    if (st.st_nlink == 0 && kn.last_nlink != 0) notes |= NOTE_DELETE;
    if (st.st_nlink != kn.last_nlink && st.st_nlink != 0) notes |= NOTE_LINK;
    if (S_ISREG(st.st_mode) && st.st_size > kn.last_size) notes |= NOTE_EXTEND;
    if ((notes & NOTE_ATTRIB) && st.st_nlink != kn.last_nlink && (notes & (NOTE_DELETE | NOTE_LINK))) {
      // The IN_ATTRIB was only the link count changing, which kqueue reports as NOTE_LINK / NOTE_DELETE.
      notes &= ~static_cast<uint32_t>(NOTE_ATTRIB);
    }
    kn.last_nlink = st.st_nlink;
    kn.last_size = st.st_size;
  }
  notes &= kn.sfflags;
  if (notes == 0) return;
  kn.out_fflags |= notes;
  Queue(kq, kn);
}

// The wait status of the exited process behind a pidfd: waitid(WNOWAIT) while it is a zombie child (it stays
// reapable by its waiter), else the kernel's record of a reaped process (PIDFD_GET_INFO with PIDFD_INFO_EXIT,
// Linux 6.15+), as a kqueue kernel keeps the status with the knote whoever reaps the process.
bool ExitStatus(int pidfd, int* status) {
  siginfo_t si;
  std::memset(&si, 0, sizeof(si));
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      si.si_pid != 0) {
    if (si.si_code == CLD_EXITED) *status = (si.si_status & 0xff) << 8;
    else *status = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
    return true;
  }
  struct PidfdInfo {  // struct pidfd_info, PIDFD_INFO_SIZE_VER0 (64 bytes)
    uint64_t mask;
    uint64_t cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
  } info;
  static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0 is 64");
  std::memset(&info, 0, sizeof(info));
  info.mask = 1u << 3;  // PIDFD_INFO_EXIT
  if (ioctl(pidfd, _IOWR(0xFF, 11, PidfdInfo), &info) == 0 && (info.mask & (1u << 3)) != 0) {
    *status = info.exit_code;
    return true;
  }
  return false;
}

// The parent of a process, from /proc/<pid>/stat (field 4), or -1.
pid_t ParentOf(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* end = std::strrchr(buf, ')');  // the command name may contain spaces and parentheses
  int ppid = -1;
  char state = 0;
  if (end == nullptr || std::sscanf(end + 1, " %c %d", &state, &ppid) != 2) return -1;
  return static_cast<pid_t>(ppid);
}

void ActivateOther(Kq& kq, Knote& kn) {
  switch (kn.filter) {
    case EVFILT_TIMER: {
      uint64_t expirations = 0;
      if (read(kn.internal, &expirations, sizeof(expirations)) != static_cast<ssize_t>(sizeof(expirations))) return;
      kn.out_data += static_cast<intptr_t>(expirations);
      Queue(kq, kn);
      return;
    }
    case EVFILT_PROC:
      // The process exited. kqueue removes the knote after reporting it (EV_EOF | EV_ONESHOT, as FreeBSD does).
      // With NOTE_EXITSTATUS (macOS) data is the wait status, read now, as the kernel fills it in at exit.
      kn.out_fflags = NOTE_EXIT & kn.sfflags;
      if ((kn.sfflags & NOTE_EXITSTATUS) != 0) {
        int status = 0;
        if (ExitStatus(kn.internal, &status)) {
          kn.out_fflags |= NOTE_EXITSTATUS;
          kn.out_data = status;
        }
      }
      kn.out_flags = EV_EOF;
      kn.mode |= EV_ONESHOT;
      (void)epoll_ctl(kq.epfd, EPOLL_CTL_DEL, kn.internal, nullptr);
      Queue(kq, kn);
      return;
    case EVFILT_VNODE:
      ActivateVnode(kq, kn);
      return;
    case EVFILT_SIGNAL: {
      uint64_t pokes = 0;
      (void)!read(kn.internal, &pokes, sizeof(pokes));
      const uint64_t now = Signals().signals[kn.ident].count.load();
      if (now == kn.last_signals) return;
      kn.out_data += static_cast<intptr_t>(now - kn.last_signals);
      kn.last_signals = now;
      Queue(kq, kn);
      return;
    }
    default:
      return;
  }
}

int CreateInternal(const struct kevent& change, Knote& kn) {
  switch (change.filter) {
    case EVFILT_TIMER:
      kn.internal = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      return kn.internal < 0 ? errno : ArmTimer(kn, change);
    case EVFILT_USER:
      return 0;
    case EVFILT_PROC: {
      if ((change.fflags & NOTE_EXIT) == 0) return EINVAL;  // the only event emulated
      const long fd = syscall(SYS_pidfd_open, static_cast<pid_t>(change.ident), 0);
      if (fd < 0) return errno;
      // macOS gives the exit status only to the parent (or a debugger): EACCES for anyone else.
      if ((change.fflags & NOTE_EXITSTATUS) != 0 && ParentOf(static_cast<pid_t>(change.ident)) != getpid()) {
        close(static_cast<int>(fd));
        return EACCES;
      }
      kn.internal = static_cast<int>(fd);
      return 0;
    }
    case EVFILT_SIGNAL:
      return AttachSignal(kn);
    case EVFILT_VNODE: {
      const int fd = static_cast<int>(change.ident);
      struct stat st {};
      if (change.ident > static_cast<uintptr_t>(INT32_MAX) || fstat(fd, &st) != 0) return EBADF;
      kn.last_nlink = st.st_nlink;
      kn.last_size = st.st_size;
      kn.internal = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (kn.internal < 0) return errno;
      // inotify watches paths; /proc/self/fd/N names exactly the file the descriptor refers to.
      char path[64];
      std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
      return inotify_add_watch(kn.internal, path, kInotifyMask) < 0 ? errno : 0;
    }
    default:
      return EINVAL;
  }
}

void ApplyUserFflags(Knote& kn, uint32_t fflags) {
  const uint32_t value = fflags & NOTE_FFLAGSMASK;
  switch (fflags & NOTE_FFCTRLMASK) {
    case NOTE_FFAND:
      kn.sfflags &= value;
      break;
    case NOTE_FFOR:
      kn.sfflags |= value;
      break;
    case NOTE_FFCOPY:
      kn.sfflags = value;
      break;
    default:
      break;
  }
}

int ApplyOther(Kq& kq, const struct kevent& change) {
  const uint16_t flags = change.flags;
  const std::pair<int16_t, uintptr_t> key{change.filter, change.ident};
  auto found = kq.others.find(key);
  Knote* kn = found == kq.others.end() ? nullptr : found->second.get();

  if (flags & EV_DELETE) {
    if (kn == nullptr) return ENOENT;
    RemoveOther(kq, change.filter, change.ident);
    return 0;
  }
  if (flags & EV_ADD) {
    if (kn == nullptr) {
      auto created = std::make_unique<Knote>();
      created->ident = change.ident;
      created->filter = change.filter;
      created->mode = flags & kModeFlags;
      created->sfflags = change.filter == EVFILT_USER ? (change.fflags & NOTE_FFLAGSMASK) : change.fflags;
      created->serial = kq.next_serial++;
      const int err = CreateInternal(change, *created);
      if (err != 0) return err;
      kn = created.get();
      kq.by_serial[kn->serial] = kn;
      kq.others[key] = std::move(created);
    } else if (change.filter == EVFILT_TIMER) {
      // Re-adding a timer restarts it with the new period; what it counted so far is dropped.
      kn->sfflags = change.fflags;
      kn->mode = (kn->mode & ~static_cast<uint16_t>(EV_ONESHOT)) | (flags & EV_ONESHOT);
      kn->out_data = 0;
      uint64_t drop = 0;
      (void)!read(kn->internal, &drop, sizeof(drop));
      const int err = ArmTimer(*kn, change);
      if (err != 0) return err;
    } else if (change.filter != EVFILT_USER) {
      kn->sfflags = change.fflags;
    }
    kn->sdata = change.data;
    kn->udata = change.udata;
    kn->disabled = (flags & EV_DISABLE) != 0;
  } else if (kn == nullptr) {
    return ENOENT;
  }
  if (flags & EV_ENABLE) kn->disabled = false;
  if (flags & EV_DISABLE) kn->disabled = true;
  if (change.filter == EVFILT_USER) {
    ApplyUserFflags(*kn, change.fflags);
    if (change.fflags & NOTE_TRIGGER) {
      kn->triggered = true;
      kn->out_fflags = kn->sfflags;
      Queue(kq, *kn);
    }
    return 0;
  }
  return SyncOther(kq, *kn);
}

}  // namespace

int kqueue_emu_is_signal_handler(const struct sigaction* action) {
  return action != nullptr && (action->sa_flags & SA_SIGINFO) != 0 && action->sa_sigaction == EmulatedSignalHandler;
}

int kqueue(void) {
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -1;
  auto kq = std::make_shared<Kq>();
  kq->epfd = epfd;
  kq->anchor = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (kq->anchor < 0) {
    const int err = errno;
    close(epfd);
    errno = err;
    return -1;
  }
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  kq->cookie = registry.next_cookie++;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kAnchorTag | kq->cookie;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, kq->anchor, &event) != 0) {
    const int err = errno;
    close(epfd);
    errno = err;
    return -1;
  }
  // Forget kqueues whose descriptor was closed since (this one may even have taken over a number).
  for (auto it = registry.by_fd.begin(); it != registry.by_fd.end();) {
    if (it->first == epfd || !Alive(*it->second)) {
      it = registry.by_fd.erase(it);
    } else {
      ++it;
    }
  }
  registry.by_fd[epfd] = std::move(kq);
  return epfd;
}

int kevent(int kqfd, const struct kevent* changelist, int nchanges, struct kevent* eventlist, int nevents,
           const struct timespec* timeout) {
  if (nchanges < 0 || nevents < 0 || (nchanges > 0 && changelist == nullptr) ||
      (nevents > 0 && eventlist == nullptr)) {
    errno = EINVAL;
    return -1;
  }
  int timeout_ms = -1;
  if (timeout != nullptr) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L) {
      errno = EINVAL;
      return -1;
    }
    const long long ms = static_cast<long long>(timeout->tv_sec) * 1000 + (timeout->tv_nsec + 999999) / 1000000;
    timeout_ms = ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
  }
  std::shared_ptr<Kq> kq;
  {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    auto found = registry.by_fd.find(kqfd);
    if (found != registry.by_fd.end()) kq = found->second;
  }
  if (!kq) {
    errno = EBADF;
    return -1;
  }
  std::lock_guard<std::mutex> lock(kq->mu);
  // As in FreeBSD's kern_kevent: each failed change, and each change with EV_RECEIPT, takes one slot of the
  // eventlist as an EV_ERROR entry whose data is the errno (0 for a receipt of a success). A failure with no room
  // left fails the call. If any entry was written, the call returns them without looking for events.
  int written = 0;
  for (int i = 0; i < nchanges; ++i) {
    const struct kevent& change = changelist[i];
    const int err = Apply(*kq, change);
    if (err != 0 || (change.flags & EV_RECEIPT)) {
      if (written == nevents) {
        if (err == 0) continue;
        errno = err;
        return -1;
      }
      struct kevent& receipt = eventlist[written++];
      receipt = change;
      receipt.flags = EV_ERROR;
      receipt.data = err;
    }
  }
  // A change may have queued a report (NOTE_TRIGGER): the kqueue is readable while its queue is not empty.
  SetAnchor(*kq, !kq->queue.empty());
  if (written > 0) return written;
  if (nevents == 0) return 0;
  return Scan(*kq, eventlist, nevents, timeout_ms);
}
