#include "kqueue/kqueue_poller.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>

#include <string>

#include "fdloop/args.h"
#include "fdloop/contract.h"
#include "fdloop/posix/syscall.h"
#include "kqueue/signal_disposition.h"

namespace fdloop::kqueue {

namespace {

// The Interest, Ready and token numbers are fdloop/contract.h's; the three conditions double as "which filter"
// bits below.

// Up to three filters per descriptor; a transition deletes and adds each at most once.
constexpr int kMaxChanges = 6;

struct Filter {
  int64_t condition;  // the Interest bit it serves
  int16_t filter;
  uint32_t fflags;
};

constexpr Filter kFilters[] = {
    {kInterestReadable, EVFILT_READ, 0},
    {kInterestWritable, EVFILT_WRITE, 0},
#if FDLOOP_KQUEUE_HAVE_OOB
    {kInterestPriority, EVFILT_EXCEPT, NOTE_OOB},
#endif
};

// Interest.EDGE is EV_CLEAR (the knote's state resets when it is reported). Interest.ONESHOT is EV_DISPATCH: the
// knote is disabled, not deleted, after one report, so re-arming is an EV_ENABLE and the udata update of the same
// EV_ADD, with no allocation in the kernel.
uint16_t ModeFlags(int64_t interest) {
  uint16_t flags = 0;
  if (interest & kInterestEdge) flags |= EV_CLEAR;
  if (interest & kInterestOneshot) flags |= EV_DISPATCH;
  return flags;
}

int64_t ConditionOf(int16_t filter) {
  for (const Filter& f : kFilters) {
    if (f.filter == filter) return f.condition;
  }
  return 0;
}

int CountConditions(int64_t interest) {
  int count = 0;
  for (const Filter& f : kFilters) count += (interest & f.condition) != 0 ? 1 : 0;
  return count;
}

// kqueue reports end of file per direction with EV_EOF, and a socket's pending error in fflags next to it (as mio
// reads it). A read-side EOF is the peer's shutdown(SHUT_WR) or a pipe without writers; a write-side EOF means
// nothing more can be sent (the reader is gone), which is the contract's HANGUP.
uint32_t ToReadyFlags(const struct kevent& ev) {
  uint32_t ready = 0;
  const bool eof = (ev.flags & EV_EOF) != 0;
  if (ev.filter == EVFILT_READ) {
    ready |= kReadyReadable;
    if (eof) ready |= kReadyReadHangup;
  } else if (ev.filter == EVFILT_WRITE) {
    ready |= kReadyWritable;
    if (eof) ready |= kReadyHangup;
  }
#if FDLOOP_KQUEUE_HAVE_OOB
  else if (ev.filter == EVFILT_EXCEPT) {
    ready |= kReadyPriority;
  }
#endif
  if ((eof && ev.fflags != 0) || (ev.flags & EV_ERROR) != 0) ready |= kReadyError;
  return ready;
}

void* TokenToUdata(uint64_t token) { return reinterpret_cast<void*>(static_cast<uintptr_t>(token)); }
uint64_t UdataToToken(void* udata) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(udata)); }

bool IsDescriptorFilter(int16_t filter) {
  return filter == EVFILT_READ || filter == EVFILT_WRITE
#if FDLOOP_KQUEUE_HAVE_OOB
         || filter == EVFILT_EXCEPT
#endif
      ;
}

// The exit of a process as one number for srcRead: its exit code (0-255), 256 + signal number when a signal
// killed it (+ 512 when it dumped core), or -1 when unknown. Read as the kevent is harvested, before any JS runs:
// waitid(WNOWAIT) peeks at a child's status without reaping it (libuv reaps Node's own children from its SIGCHLD
// handler, and after that the status is gone). FreeBSD also puts the wait status in data for any process, and
// macOS for a child when NOTE_EXITSTATUS was asked for; that is the fallback there.
double ProcessStatus(const struct kevent& ev) {
  int status = 0;
  bool known = false;
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(ev.ident), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == static_cast<pid_t>(ev.ident)) {
    if (info.si_code == CLD_EXITED) return info.si_status;
    if (info.si_code == CLD_KILLED) return 256 + info.si_status;
    if (info.si_code == CLD_DUMPED) return 256 + 512 + info.si_status;
  }
#if defined(__FreeBSD__)
  status = static_cast<int>(ev.data);
  known = true;
#elif defined(NOTE_EXITSTATUS)
  status = static_cast<int>(ev.data);
  known = (ev.fflags & NOTE_EXITSTATUS) != 0;
#endif
  if (!known) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 256 + (WCOREDUMP(status) ? 512 : 0) + WTERMSIG(status);
  return -1;
}

// The contract's answer for an fd this poller does not know: EBADF if it is not open, ENOENT otherwise (as
// epoll_ctl answers).
int NotRegistered(int fd) { return fcntl(fd, F_GETFD) < 0 ? -EBADF : -ENOENT; }

}  // namespace

Napi::Function KqueuePoller::Define(Napi::Env env) {
  return DefinePollerClass(env, "Poller",
                           {
                               InstanceMethod("add", &KqueuePoller::Add),
                               InstanceMethod("mod", &KqueuePoller::Mod),
                               InstanceMethod("del", &KqueuePoller::Del),
                               InstanceMethod("srcAdd", &KqueuePoller::SrcAdd),
                               InstanceMethod("srcDel", &KqueuePoller::SrcDel),
                               InstanceMethod("srcRead", &KqueuePoller::SrcRead),
                               InstanceMethod("srcPause", &KqueuePoller::SrcPause),
                               InstanceMethod("kernelFd", &KqueuePoller::KernelFd),
                               InstanceMethod("vnodeOpen", &KqueuePoller::VnodeOpen),
                           });
}

KqueuePoller::KqueuePoller(const Napi::CallbackInfo& info) : PollerWrap(info) {
  Napi::Env env = info.Env();
  uint32_t batch_size = 0;
  uint32_t max_rounds = 0;
  if (!ParseArgs(info, &batch_size, &max_rounds)) return;

  kernel_events_.reset(new (std::nothrow) struct kevent[batch_size]);
  if (!kernel_events_) {
    ThrowErrno(env, -ENOMEM, "malloc");
    return;
  }
  const int kq = posix::Syscall([] { return ::kqueue(); });
  if (kq < 0) {
    ThrowErrno(env, kq, "kqueue");
    return;
  }
  // kqueue descriptors are not inherited across fork and have no O_CLOEXEC flag at creation on every platform;
  // set FD_CLOEXEC so an exec'd child never holds one. Failure is ignored on purpose: the poller still works.
  (void)fcntl(kq, F_SETFD, FD_CLOEXEC);
  // On failure an exception is pending; node-addon-api then deletes this object, and the destructor releases
  // whatever Open had set up, including kq.
  Open(info, kq, batch_size, max_rounds);
}

int KqueuePoller::Submit(std::vector<struct kevent>& changes) {
  if (changes.empty()) return 0;
  struct kevent receipts[kMaxChanges];
  const int n = static_cast<int>(changes.size());
  const struct timespec zero = {0, 0};
  // Every change carries EV_RECEIPT and the eventlist has exactly one slot per change, so kevent answers each
  // change with a receipt (EV_ERROR, data = errno or 0) and cannot return, and so lose, a ready event here.
  const int rc = posix::Syscall([&] { return ::kevent(kernel_fd(), changes.data(), n, receipts, n, &zero); });
  if (rc < 0) return rc;
  for (int i = 0; i < rc; ++i) {
    if ((receipts[i].flags & EV_ERROR) != 0 && receipts[i].data != 0) return -static_cast<int>(receipts[i].data);
  }
  return 0;
}

int KqueuePoller::Transition(int fd, int64_t from, uint64_t from_token, int64_t to, uint64_t to_token) {
  auto build = [fd](std::vector<struct kevent>* changes, int64_t old_interest, int64_t new_interest,
                    uint64_t token) {
    const uint16_t old_mode = ModeFlags(old_interest);
    const uint16_t new_mode = ModeFlags(new_interest);
    for (const Filter& f : kFilters) {
      const bool had = (old_interest & f.condition) != 0;
      const bool want = (new_interest & f.condition) != 0;
      struct kevent change;
      // An existing knote keeps the EV_CLEAR/EV_DISPATCH it was created with (EV_ADD updates only udata, fflags and
      // data), so a change of mode is a delete and a fresh add.
      if (had && (!want || old_mode != new_mode)) {
        EV_SET(&change, static_cast<uintptr_t>(fd), f.filter, EV_DELETE | EV_RECEIPT, 0, 0, nullptr);
        changes->push_back(change);
      }
      if (want) {
        EV_SET(&change, static_cast<uintptr_t>(fd), f.filter, EV_ADD | EV_ENABLE | EV_RECEIPT | new_mode, f.fflags,
               0, TokenToUdata(token));
        changes->push_back(change);
      }
    }
  };
  std::vector<struct kevent> changes;
  changes.reserve(kMaxChanges);
  build(&changes, from, to, to_token);
  const int rc = Submit(changes);
  if (rc < 0 && to != 0) {
    // Put back what was there (nothing, for a new registration). Best effort and ignored on purpose: the failure
    // being reported is the interesting one, and a change that failed usually failed for every filter alike
    // (EBADF). At worst a re-enabled ONESHOT filter reports once more, which the contract allows.
    std::vector<struct kevent> undo;
    undo.reserve(kMaxChanges);
    build(&undo, to, from, from_token);
    (void)Submit(undo);
  }
  return rc;
}

bool KqueuePoller::ParseCtlArgs(const Napi::CallbackInfo& info, int* fd, uint64_t* token, int64_t* interest) {
  if (!FdArg(info, 0, fd)) return false;
  int64_t value = 0;
  if (!IntegerArg(info, 1, "token", 0, kMaxToken, &value)) return false;
  *token = static_cast<uint64_t>(value);
  return IntegerArg(info, 2, "interest", 0, kInterestAll, interest);
}

Napi::Value KqueuePoller::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint64_t token = 0;
  int64_t interest = 0;
  if (!ParseCtlArgs(info, &fd, &token, &interest)) return Napi::Value();
  if (kernel_fd() < 0) return Napi::Number::New(env, -EBADF);
  if ((interest & kInterestConditions) == 0 || ((interest & kInterestPriority) != 0 && !FDLOOP_KQUEUE_HAVE_OOB)) {
    return Napi::Number::New(env, -EINVAL);
  }
  if (registrations_.count(fd) != 0) return Napi::Number::New(env, -EEXIST);
  const int rc = Transition(fd, 0, 0, interest, token);
  if (rc == 0) {
    Registration& reg = registrations_[fd];
    reg.token = token;
    reg.interest = interest;
  }
  return Napi::Number::New(env, rc);
}

Napi::Value KqueuePoller::Mod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint64_t token = 0;
  int64_t interest = 0;
  if (!ParseCtlArgs(info, &fd, &token, &interest)) return Napi::Value();
  if (kernel_fd() < 0) return Napi::Number::New(env, -EBADF);
  if ((interest & kInterestConditions) == 0 || ((interest & kInterestPriority) != 0 && !FDLOOP_KQUEUE_HAVE_OOB)) {
    return Napi::Number::New(env, -EINVAL);
  }
  auto found = registrations_.find(fd);
  if (found == registrations_.end()) return Napi::Number::New(env, NotRegistered(fd));
  Registration& reg = found->second;
  const int rc = Transition(fd, reg.interest, reg.token, interest, token);
  if (rc == 0) {
    reg.token = token;
    reg.interest = interest;
  }
  return Napi::Number::New(env, rc);
}

Napi::Value KqueuePoller::Del(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  if (kernel_fd() < 0) return Napi::Number::New(env, -EBADF);
  auto found = registrations_.find(fd);
  if (found == registrations_.end()) return Napi::Number::New(env, NotRegistered(fd));
  const Registration reg = found->second;
  // Forgotten whatever the kernel says: after a failure (EBADF: the descriptor was closed first, which removed its
  // knotes) there is nothing left to deregister, and keeping the entry would refuse the number's next user.
  registrations_.erase(found);
  return Napi::Number::New(env, Transition(fd, reg.interest, reg.token, 0, 0));
}

int KqueuePoller::Harvest(double* pairs, uint32_t capacity) {
  struct kevent* events = kernel_events_.get();
  const struct timespec zero = {0, 0};
  const int n =
      posix::Syscall([&] { return ::kevent(kernel_fd(), nullptr, 0, events, static_cast<int>(capacity), &zero); });
  if (n <= 0) return n;
  if (++harvest_stamp_ == 0) harvest_stamp_ = 1;  // 0 means "never reported"
  oneshot_fired_.clear();
  int count = 0;
  for (int i = 0; i < n; ++i) {
    const struct kevent& ev = events[i];
    if (!IsDescriptorFilter(ev.filter)) {
      HarvestSource(ev, pairs, capacity, &count);
      continue;
    }
    const uint64_t token = UdataToToken(ev.udata);
    const uint32_t ready = ToReadyFlags(ev);
    auto found = registrations_.find(static_cast<int>(ev.ident));
    Registration* reg =
        found != registrations_.end() && found->second.token == token ? &found->second : nullptr;
    if (reg != nullptr && reg->stamp == harvest_stamp_) {
      // Another filter of a descriptor already in this batch: one pair per token per batch, flags OR-ed.
      double& flags = pairs[2 * reg->index + 1];
      flags = static_cast<double>(static_cast<uint32_t>(flags) | ready);
    } else {
      const int index = count++;
      pairs[2 * index] = static_cast<double>(token);
      pairs[2 * index + 1] = static_cast<double>(ready);
      if (reg != nullptr) {
        reg->stamp = harvest_stamp_;
        reg->index = static_cast<uint32_t>(index);
        reg->fired = 0;
        if ((reg->interest & kInterestOneshot) != 0 && CountConditions(reg->interest) > 1) {
          oneshot_fired_.push_back(static_cast<int>(ev.ident));
        }
      }
    }
    if (reg != nullptr) reg->fired |= static_cast<uint32_t>(ConditionOf(ev.filter));
  }
  // EV_DISPATCH disables only the filter that fired, but a ONESHOT registration is one unit in the contract (as
  // with EPOLLONESHOT): disable its other filters too, or a second report could follow before the re-arm.
  if (!oneshot_fired_.empty()) {
    std::vector<struct kevent> changes;
    changes.reserve(kMaxChanges);
    for (const int fd : oneshot_fired_) {
      const Registration& reg = registrations_[fd];
      for (const Filter& f : kFilters) {
        if ((reg.interest & f.condition) == 0 || (reg.fired & f.condition) != 0) continue;
        struct kevent change;
        EV_SET(&change, static_cast<uintptr_t>(fd), f.filter, EV_DISABLE | EV_RECEIPT, 0, 0, nullptr);
        changes.push_back(change);
      }
      // Ignored on purpose: a failure means the descriptor was closed, which removed its knotes anyway.
      if (!changes.empty()) (void)Submit(changes);
      changes.clear();
    }
  }
  if (doorbell_rang_) {
    doorbell_rang_ = false;
    // Sources resumed with something pending. What does not fit into this batch waits for the next ring.
    size_t done = 0;
    for (; done < rereport_.size(); ++done) {
      auto found = sources_.find(rereport_[done]);
      if (found == sources_.end()) continue;
      found->second.rereport = false;
      if (!EmitSource(found->second, pairs, capacity, &count)) {
        found->second.rereport = true;
        break;
      }
    }
    rereport_.erase(rereport_.begin(), rereport_.begin() + static_cast<std::ptrdiff_t>(done));
    if (!rereport_.empty()) (void)RingDoorbell();
  }
  return count;
}

void KqueuePoller::HarvestSource(const struct kevent& ev, double* pairs, uint32_t capacity, int* count) {
  if (ev.filter == EVFILT_USER && ev.ident == 0) {
    doorbell_rang_ = true;
    return;
  }
  auto found = sources_.find(SourceKey(ev.filter, ev.ident));
  if (found == sources_.end()) return;  // deleted after the kernel queued the event
  Source& source = found->second;
  source.events += 1;
  if (ev.filter == EVFILT_TIMER || ev.filter == EVFILT_SIGNAL) {
    source.data += static_cast<double>(ev.data);
  } else {
    source.data = static_cast<double>(ev.data);
  }
  source.fflags |= ev.fflags;
  if (ev.filter == EVFILT_PROC && (ev.fflags & NOTE_EXIT) != 0) source.data = ProcessStatus(ev);
  if (ev.filter == EVFILT_TIMER && source.rearm_interval > 0) {
    // The first expiration of a timer whose period differs: from now on, periodic. Failure (ENOMEM) is ignored on
    // purpose: the timer then stays disarmed after its first expiration, which the next arm() repairs.
    struct kevent change;
    EV_SET(&change, ev.ident, EVFILT_TIMER, EV_ADD | EV_ENABLE | EV_RECEIPT, source.rearm_fflags,
           static_cast<intptr_t>(source.rearm_interval), TokenToUdata(source.token));
    std::vector<struct kevent> changes{change};
    (void)Submit(changes);
    source.rearm_interval = 0;
  }
  // The doorbell is the only way a paused source is reported later; a full batch cannot happen here (one pair per
  // kevent at most), so the result is not needed.
  (void)EmitSource(source, pairs, capacity, count);
}

bool KqueuePoller::EmitSource(Source& source, double* pairs, uint32_t capacity, int* count) {
  if (source.paused || source.events == 0 || source.stamp == harvest_stamp_) return true;
  if (static_cast<uint32_t>(*count) >= capacity) return false;
  const int index = (*count)++;
  pairs[2 * index] = static_cast<double>(source.token);
  pairs[2 * index + 1] = static_cast<double>(kReadyReadable);
  source.stamp = harvest_stamp_;
  return true;
}

int KqueuePoller::RingDoorbell() {
  struct kevent change;
  std::vector<struct kevent> changes;
  if (!doorbell_added_) {
    // EV_CLEAR: one ring is reported once.
    EV_SET(&change, 0, EVFILT_USER, EV_ADD | EV_ENABLE | EV_CLEAR | EV_RECEIPT, 0, 0, nullptr);
    changes.push_back(change);
  }
  EV_SET(&change, 0, EVFILT_USER, EV_RECEIPT, NOTE_TRIGGER, 0, nullptr);
  changes.push_back(change);
  const int rc = Submit(changes);
  if (rc == 0) doorbell_added_ = true;
  return rc;
}

bool KqueuePoller::SourceArgs(const Napi::CallbackInfo& info, int16_t* filter, uintptr_t* ident) {
  int64_t value = 0;
  if (!IntegerArg(info, 0, "filter", INT16_MIN, -1, &value)) return false;
  *filter = static_cast<int16_t>(value);
  if (IsDescriptorFilter(*filter)) {
    Napi::RangeError::New(info.Env(), "filter must be a source filter").ThrowAsJavaScriptException();
    return false;
  }
  if (!IntegerArg(info, 1, "ident", 0, (int64_t{1} << 48) - 1, &value)) return false;
  *ident = static_cast<uintptr_t>(value);
  if (*filter == EVFILT_USER && *ident == 0) {
    Napi::RangeError::New(info.Env(), "EVFILT_USER ident 0 is the poller's own").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// srcAdd(filter, ident, flags, fflags, data, token, rearmInterval?) -> 0 | -errno (-EEXIST if this poller has the
// knote already: delete it first to replace it). `rearmInterval` (timers): after the first
// expiration, re-add periodic with this data and the same fflags.
Napi::Value KqueuePoller::SrcAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int16_t filter = 0;
  uintptr_t ident = 0;
  int64_t flags = 0;
  int64_t fflags = 0;
  int64_t data = 0;
  int64_t token = 0;
  int64_t rearm = 0;
  if (!SourceArgs(info, &filter, &ident) || !IntegerArg(info, 2, "flags", 0, 0xffff, &flags) ||
      !IntegerArg(info, 3, "fflags", 0, UINT32_MAX, &fflags) ||
      !IntegerArg(info, 4, "data", 0, kMaxToken, &data) ||
      !IntegerArg(info, 5, "token", 0, kMaxToken, &token)) {
    return Napi::Value();
  }
  if (!info[6].IsUndefined() && !IntegerArg(info, 6, "rearmInterval", 0, kMaxToken, &rearm)) {
    return Napi::Value();
  }
  if (kernel_fd() < 0) return Napi::Number::New(env, -EBADF);
  // kqueue would silently update an existing knote (and steal another source's reports): one source per knote.
  if (sources_.count(SourceKey(filter, ident)) != 0) return Napi::Number::New(env, -EEXIST);
  // A signal is ignored process-wide while subscribed (signal_disposition.h); the subscription belongs to the
  // source and ends with srcDel or with the poller.
  if (filter == EVFILT_SIGNAL) {
    const int subscribed = SignalSubscribe(static_cast<int>(ident));
    if (subscribed < 0) return Napi::Number::New(env, subscribed);
  }
  struct kevent change;
  EV_SET(&change, ident, filter, static_cast<uint16_t>(flags) | EV_ADD | EV_RECEIPT, static_cast<uint32_t>(fflags),
         static_cast<intptr_t>(data), TokenToUdata(static_cast<uint64_t>(token)));
  std::vector<struct kevent> changes{change};
  const int rc = Submit(changes);
  if (rc < 0 && filter == EVFILT_SIGNAL) SignalUnsubscribe(static_cast<int>(ident));
  if (rc == 0) {
    Source& source = sources_[SourceKey(filter, ident)];
    source.token = static_cast<uint64_t>(token);
    source.rearm_interval = rearm;
    source.rearm_fflags = static_cast<uint32_t>(fflags);
  }
  return Napi::Number::New(env, rc);
}

// srcDel(filter, ident) -> 0 | -errno (the knote may already be gone: a process that exited, a closed vnode).
// The source is forgotten either way, and an EVFILT_VNODE descriptor opened by vnodeOpen is closed.
Napi::Value KqueuePoller::SrcDel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int16_t filter = 0;
  uintptr_t ident = 0;
  if (!SourceArgs(info, &filter, &ident)) return Napi::Value();
  const bool known = sources_.erase(SourceKey(filter, ident)) != 0;
  int rc = -EBADF;
  if (kernel_fd() >= 0) {
    struct kevent change;
    EV_SET(&change, ident, filter, EV_DELETE | EV_RECEIPT, 0, 0, nullptr);
    std::vector<struct kevent> changes{change};
    rc = Submit(changes);
  }
  // After the knote is gone, so that the disposition is restored last.
  if (known && filter == EVFILT_SIGNAL) SignalUnsubscribe(static_cast<int>(ident));
  if (filter == EVFILT_VNODE) {
    auto owned = vnode_fds_.find(static_cast<int>(ident));
    if (owned != vnode_fds_.end()) {
      vnode_fds_.erase(owned);
      // Ignored on purpose: the descriptor is released either way.
      (void)posix::CloseFd(static_cast<int>(ident));
    }
  }
  return Napi::Number::New(env, rc);
}

// srcRead(filter, ident, out: Float64Array(3)) -> 0 | -ENOENT; out = [kevents, data, fflags] since the last read.
Napi::Value KqueuePoller::SrcRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int16_t filter = 0;
  uintptr_t ident = 0;
  if (!SourceArgs(info, &filter, &ident)) return Napi::Value();
  Napi::Value out_value = info[2];
  if (!out_value.IsTypedArray() || out_value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      out_value.As<Napi::Float64Array>().ElementLength() < 3) {
    Napi::TypeError::New(env, "out must be a Float64Array of length 3").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  auto found = sources_.find(SourceKey(filter, ident));
  if (found == sources_.end()) return Napi::Number::New(env, -ENOENT);
  Source& source = found->second;
  double* out = out_value.As<Napi::Float64Array>().Data();
  out[0] = source.events;
  out[1] = source.data;
  out[2] = static_cast<double>(source.fflags);
  source.events = 0;
  source.data = 0;
  source.fflags = 0;
  return Napi::Number::New(env, 0);
}

// srcPause(filter, ident, paused: boolean) -> 0 | -errno. Resuming a source with something pending reports it at
// once, through the doorbell.
Napi::Value KqueuePoller::SrcPause(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int16_t filter = 0;
  uintptr_t ident = 0;
  if (!SourceArgs(info, &filter, &ident)) return Napi::Value();
  if (!info[2].IsBoolean()) {
    Napi::TypeError::New(env, "paused must be a boolean").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  const uint64_t key = SourceKey(filter, ident);
  auto found = sources_.find(key);
  if (found == sources_.end()) return Napi::Number::New(env, -ENOENT);
  Source& source = found->second;
  source.paused = info[2].As<Napi::Boolean>().Value();
  if (source.paused || source.events == 0 || source.rereport) return Napi::Number::New(env, 0);
  if (kernel_fd() < 0) return Napi::Number::New(env, -EBADF);
  source.rereport = true;
  rereport_.push_back(key);
  return Napi::Number::New(env, RingDoorbell());
}

Napi::Value KqueuePoller::KernelFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), kernel_fd());
}

// userTrigger(kq, ident) -> 0 | -errno: NOTE_TRIGGER of an EVFILT_USER knote, from any thread (a notifier's remote
// side). kevent(2) on a kqueue descriptor is thread-safe; nothing of a poller is touched.
Napi::Value KqueuePoller::UserTrigger(const Napi::CallbackInfo& info) {
  int kq = -1;
  int64_t ident = 0;
  if (!FdArg(info, 0, &kq) || !IntegerArg(info, 1, "ident", 1, (int64_t{1} << 48) - 1, &ident)) {
    return Napi::Value();
  }
  struct kevent change;
  struct kevent receipt;
  EV_SET(&change, static_cast<uintptr_t>(ident), EVFILT_USER, EV_RECEIPT, NOTE_TRIGGER, 0, nullptr);
  const struct timespec zero = {0, 0};
  int rc = posix::Syscall([&] { return ::kevent(kq, &change, 1, &receipt, 1, &zero); });
  if (rc > 0) rc = (receipt.flags & EV_ERROR) != 0 && receipt.data != 0 ? -static_cast<int>(receipt.data) : 0;
  return Napi::Number::New(info.Env(), rc);
}

// vnodeOpen(path, followSymlinks) -> fd | -errno: a descriptor for EVFILT_VNODE, owned by this poller (srcDel of
// its knote closes it). macOS's O_EVTONLY opens for event notification only (it does not keep a volume from being
// unmounted).
Napi::Value KqueuePoller::VnodeOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsBoolean()) {
    Napi::TypeError::New(env, "expected (path: string, followSymlinks: boolean)").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  if (kernel_fd() < 0) return Napi::Number::New(env, -EBADF);
  const std::string path = info[0].As<Napi::String>().Utf8Value();
#ifdef O_EVTONLY
  int flags = O_EVTONLY | O_CLOEXEC;
#else
  int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
#endif
  if (!info[1].As<Napi::Boolean>().Value()) flags |= O_NOFOLLOW;
  const int fd = posix::Syscall([&] { return open(path.c_str(), flags); });
  if (fd >= 0) vnode_fds_.insert(fd);
  return Napi::Number::New(env, fd);
}

KqueuePoller::~KqueuePoller() {
  // Ignored on purpose: the descriptors are ours and released either way, and there is nobody to report to.
  for (const int fd : vnode_fds_) (void)posix::CloseFd(fd);
  for (const auto& entry : sources_) {
    if (static_cast<int16_t>(entry.first >> 48) == EVFILT_SIGNAL) {
      SignalUnsubscribe(static_cast<int>(entry.first & 0xffffffffffffull));
    }
  }
}

Napi::Object KqueuePoller::Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { c.Set(name, Napi::Number::New(env, value)); };
  set("EVFILT_TIMER", EVFILT_TIMER);
  set("EVFILT_SIGNAL", EVFILT_SIGNAL);
  set("EVFILT_USER", EVFILT_USER);
  set("EVFILT_VNODE", EVFILT_VNODE);
  set("EVFILT_PROC", EVFILT_PROC);
  set("EV_ONESHOT", EV_ONESHOT);
  set("EV_CLEAR", EV_CLEAR);
  set("EV_ENABLE", EV_ENABLE);
  set("NOTE_USECONDS", NOTE_USECONDS);
  set("NOTE_EXIT", static_cast<double>(static_cast<uint32_t>(NOTE_EXIT)));
#ifdef NOTE_EXITSTATUS
  set("NOTE_EXITSTATUS", NOTE_EXITSTATUS);
#endif
  set("NOTE_DELETE", NOTE_DELETE);
  set("NOTE_WRITE", NOTE_WRITE);
  set("NOTE_EXTEND", NOTE_EXTEND);
  set("NOTE_ATTRIB", NOTE_ATTRIB);
  set("NOTE_LINK", NOTE_LINK);
  set("NOTE_RENAME", NOTE_RENAME);
  set("NOTE_REVOKE", NOTE_REVOKE);
  return c;
}

}  // namespace fdloop::kqueue
