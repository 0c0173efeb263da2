#include "sources/linux_sources.h"

#include <fcntl.h>
#include <linux/fanotify.h>
#include <signal.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "fdloop/args.h"
#include "fdloop/posix/syscall.h"
#include "sources/attribute_relay.h"
#include "sources/gpio.h"
#include "sources/signal_mask.h"

namespace fdloop::sources {

namespace {

using posix::CloseFd;
using posix::Syscall;

Napi::Value Result(Napi::Env env, int64_t rc) { return Napi::Number::New(env, static_cast<double>(rc)); }

bool DoubleArg(const Napi::CallbackInfo& info, size_t index, const char* name, double* out) {
  if (napi_get_value_double(info.Env(), info[index], out) != napi_ok || !std::isfinite(*out) || *out < 0) {
    Napi::RangeError::New(info.Env(), std::string(name) + " must be a finite number >= 0").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out) {
  if (!info[index].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::String>().Utf8Value();
  // A NUL inside would silently cut the path short at the system call.
  if (out->find('\0') != std::string::npos) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must not contain NUL bytes").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// OwnedFd: `new OwnedFd(fd, signo)` adopts a source descriptor. close() closes it (and releases the signal block
// when signo > 0); so does garbage collection, including the collection of everything at environment teardown, so
// a terminated worker leaks nothing.

class OwnedFd : public Napi::ObjectWrap<OwnedFd> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "OwnedFd",
                       {InstanceMethod<&OwnedFd::Close>("close"), InstanceAccessor<&OwnedFd::Fd>("fd")});
  }

  explicit OwnedFd(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OwnedFd>(info) {
    int fd = -1;
    int64_t signo = 0;
    if (!FdArg(info, 0, &fd)) return;
    if (info.Length() > 1 && !IntegerArg(info, 1, "signo", 0, 64, &signo)) return;
    fd_ = fd;
    signo_ = static_cast<int>(signo);
  }

  ~OwnedFd() override { (void)Release(); }

 private:
  int Release() {
    if (fd_ < 0) return 0;
    const int rc = CloseFd(fd_);
    fd_ = -1;
    if (signo_ > 0) SignalUnsubscribe(signo_);
    signo_ = 0;
    return rc;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) { return Result(info.Env(), Release()); }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Result(info.Env(), fd_); }

  int fd_ = -1;
  int signo_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// timerfd

clockid_t ClockOf(int64_t clock) {
  switch (clock) {
    case 1:
      return CLOCK_REALTIME;
    case 2:
      return CLOCK_BOOTTIME;
    default:
      return CLOCK_MONOTONIC;
  }
}

// timerfdCreate(clock: 0 monotonic | 1 realtime | 2 boottime) -> fd | -errno
Napi::Value TimerfdCreate(const Napi::CallbackInfo& info) {
  int64_t clock = 0;
  if (!IntegerArg(info, 0, "clock", 0, 2, &clock)) return info.Env().Undefined();
  return Result(info.Env(), Syscall([&] { return timerfd_create(ClockOf(clock), TFD_NONBLOCK | TFD_CLOEXEC); }));
}

timespec ToTimespec(double ms) {
  const double seconds = std::floor(ms / 1000.0);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(seconds);
  ts.tv_nsec = static_cast<long>(std::llround((ms - seconds * 1000.0) * 1e6));
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec += 1;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

// timerfdSet(fd, absolute, valueMs, intervalMs) -> 0 | -errno. valueMs 0 disarms.
Napi::Value TimerfdSet(const Napi::CallbackInfo& info) {
  int fd = -1;
  double value = 0;
  double interval = 0;
  if (!FdArg(info, 0, &fd) || !DoubleArg(info, 2, "value", &value) || !DoubleArg(info, 3, "interval", &interval)) {
    return info.Env().Undefined();
  }
  // A strict boolean: ToBoolean() (napi_coerce_to_bool) fails in a terminating worker, and node-addon-api then
  // aborts the process on the empty value it returns.
  const bool absolute = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  itimerspec spec{};
  spec.it_value = ToTimespec(value);
  spec.it_interval = ToTimespec(interval);
  // A positive value that rounded to zero nanoseconds would disarm: keep it armed at the smallest step.
  if (value > 0 && spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  const int flags = absolute ? TFD_TIMER_ABSTIME : 0;
  return Result(info.Env(), Syscall([&] { return timerfd_settime(fd, flags, &spec, nullptr); }));
}

// timerfdRead(fd) -> expirations (> 0) | 0 when none | -errno
Napi::Value TimerfdRead(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return info.Env().Undefined();
  uint64_t count = 0;
  const ssize_t n = Syscall([&] { return read(fd, &count, sizeof(count)); });
  if (n == -EAGAIN) return Result(info.Env(), 0);
  if (n < 0) return Result(info.Env(), n);
  return Result(info.Env(), static_cast<int64_t>(count));
}

// ---------------------------------------------------------------------------------------------------------------
// signalfd

// signalfdOpen(signo) -> fd | -errno. Blocks the signal in every thread first (see signal_mask.h); the caller
// adopts the descriptor with `new OwnedFd(fd, signo)`, whose close releases that block.
Napi::Value SignalfdOpen(const Napi::CallbackInfo& info) {
  int64_t signo = 0;
  if (!IntegerArg(info, 0, "signo", 1, 64, &signo)) return info.Env().Undefined();
  const int sig = static_cast<int>(signo);
  const int sub = SignalSubscribe(sig);
  if (sub < 0) return Result(info.Env(), sub);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  const int fd = Syscall([&] { return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC); });
  if (fd < 0) SignalUnsubscribe(sig);
  return Result(info.Env(), fd);
}

static_assert(sizeof(signalfd_siginfo) == 128, "signalfd_siginfo is 128 bytes; src/sources/signal.ts decodes it");

// ---------------------------------------------------------------------------------------------------------------
// inotify

Napi::Value InotifyInit(const Napi::CallbackInfo& info) {
  return Result(info.Env(), Syscall([] { return inotify_init1(IN_NONBLOCK | IN_CLOEXEC); }));
}

// inotifyAdd(fd, path, mask) -> wd | -errno
Napi::Value InotifyAdd(const Napi::CallbackInfo& info) {
  int fd = -1;
  std::string path;
  int64_t mask = 0;
  if (!FdArg(info, 0, &fd) || !StringArg(info, 1, "path", &path) || !IntegerArg(info, 2, "mask", 0, UINT32_MAX, &mask)) {
    return info.Env().Undefined();
  }
  return Result(info.Env(), Syscall([&] { return inotify_add_watch(fd, path.c_str(), static_cast<uint32_t>(mask)); }));
}

// inotifyRm(fd, wd) -> 0 | -errno
Napi::Value InotifyRm(const Napi::CallbackInfo& info) {
  int fd = -1;
  int64_t wd = 0;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "wd", 0, INT_MAX, &wd)) return info.Env().Undefined();
  return Result(info.Env(), Syscall([&] { return inotify_rm_watch(fd, static_cast<int>(wd)); }));
}

// ---------------------------------------------------------------------------------------------------------------
// pidfd

// pidfdOpen(pid) -> fd | -errno
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int64_t pid = 0;
  if (!IntegerArg(info, 0, "pid", 1, INT_MAX, &pid)) return info.Env().Undefined();
  const long fd = Syscall([&] { return syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0); });
  if (fd >= 0) {
    // pidfd_open has no CLOEXEC flag because its descriptors are always close-on-exec; make it non-blocking so a
    // waitid on it never stalls the loop.
    const int flags = fcntl(static_cast<int>(fd), F_GETFL);
    if (flags >= 0) (void)fcntl(static_cast<int>(fd), F_SETFL, flags | O_NONBLOCK);
  }
  return Result(info.Env(), fd);
}

// PIDFD_GET_INFO (Linux 6.15+): the exit status of any process whose pidfd we hold, even after another waiter
// reaped it. Defined here because the headers this addon builds against may predate it; the layout is the
// kernel's version-0 struct (64 bytes), which the kernel accepts from older and newer callers alike.
struct PidfdInfoV0 {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(PidfdInfoV0) == 64, "PIDFD_INFO_SIZE_VER0 is 64");
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfoV0);
constexpr uint64_t kPidfdInfoExit = 1u << 3;

// Writes out = [kind, value]: kind 1 exited (value = code), 2 killed (value = signo), 3 killed with core dump.
int DecodeWaitStatus(int status, int32_t* out) {
  if (WIFEXITED(status)) {
    out[0] = 1;
    out[1] = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out[0] = WCOREDUMP(status) ? 3 : 2;
    out[1] = WTERMSIG(status);
  } else {
    return 0;
  }
  return 1;
}

// pidfdStatus(fd, out: Int32Array(2)) -> 1 with out filled | 0 when exited but no status is available | -errno.
// waitid with WNOWAIT first: it reports a child's status without reaping it, so Node's child_process (which reaps
// its own children) still sees it. For non-children, or when another waiter reaped first, PIDFD_GET_INFO.
Napi::Value PidfdStatus(const Napi::CallbackInfo& info) {
  int fd = -1;
  int32_t* out = nullptr;
  if (!FdArg(info, 0, &fd) || !Int32OutArg(info, 1, 2, &out)) return info.Env().Undefined();
  siginfo_t si;
  std::memset(&si, 0, sizeof(si));
  const int rc = Syscall([&] { return waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &si, WEXITED | WNOHANG | WNOWAIT); });
  if (rc == 0 && si.si_pid != 0) {
    if (si.si_code == CLD_EXITED) {
      out[0] = 1;
      out[1] = si.si_status;
    } else {
      out[0] = si.si_code == CLD_DUMPED ? 3 : 2;
      out[1] = si.si_status;
    }
    return Result(info.Env(), 1);
  }
  PidfdInfoV0 pinfo;
  std::memset(&pinfo, 0, sizeof(pinfo));
  pinfo.mask = kPidfdInfoExit;
  if (ioctl(fd, kPidfdGetInfo, &pinfo) == 0 && (pinfo.mask & kPidfdInfoExit) != 0) {
    return Result(info.Env(), DecodeWaitStatus(pinfo.exit_code, out));
  }
  return Result(info.Env(), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// fanotify

// fanotifyInit(flags, eventFlags) -> fd | -errno
Napi::Value FanotifyInit(const Napi::CallbackInfo& info) {
  int64_t flags = 0;
  int64_t event_flags = 0;
  if (!IntegerArg(info, 0, "flags", 0, UINT32_MAX, &flags) || !IntegerArg(info, 1, "eventFlags", 0, UINT32_MAX, &event_flags)) {
    return info.Env().Undefined();
  }
  return Result(info.Env(), Syscall([&] {
                  return fanotify_init(static_cast<unsigned>(flags) | FAN_CLOEXEC | FAN_NONBLOCK,
                                       static_cast<unsigned>(event_flags));
                }));
}

// fanotifyMark(fd, flags, mask, path) -> 0 | -errno. `mask` is below 2^53 (the kernel's bits fit in 33).
Napi::Value FanotifyMark(const Napi::CallbackInfo& info) {
  int fd = -1;
  int64_t flags = 0;
  int64_t mask = 0;
  std::string path;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "flags", 0, UINT32_MAX, &flags) ||
      !IntegerArg(info, 2, "mask", 0, (int64_t{1} << 53) - 1, &mask) || !StringArg(info, 3, "path", &path)) {
    return info.Env().Undefined();
  }
  return Result(info.Env(), Syscall([&] {
                  return fanotify_mark(fd, static_cast<unsigned>(flags), static_cast<uint64_t>(mask), AT_FDCWD, path.c_str());
                }));
}

// fanotifyHandlePath(mountFd, handle, offset, length) -> the path string | -errno. `handle` holds a struct
// file_handle as found in a FAN_EVENT_INFO_TYPE_DFID_NAME record. Opened with O_PATH, which reads no data and
// raises no permission event, then resolved through /proc/self/fd.
Napi::Value FanotifyHandlePath(const Napi::CallbackInfo& info) {
  int mount_fd = -1;
  ByteRange range{};
  if (!FdArg(info, 0, &mount_fd) || !ByteRangeArgs(info, 1, &range)) return info.Env().Undefined();
  if (range.length < sizeof(file_handle)) return Result(info.Env(), -EINVAL);
  // Copy into an aligned buffer: the record inside the read buffer has no alignment guarantee.
  std::string copy(reinterpret_cast<const char*>(range.data), range.length);
  auto* handle = reinterpret_cast<file_handle*>(copy.data());
  if (sizeof(file_handle) + handle->handle_bytes > range.length) return Result(info.Env(), -EINVAL);
  const int fd = Syscall([&] { return open_by_handle_at(mount_fd, handle, O_PATH | O_CLOEXEC); });
  if (fd < 0) return Result(info.Env(), fd);
  char link[64];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  char target[PATH_MAX];
  const ssize_t n = readlink(link, target, sizeof(target) - 1);
  const int err = n < 0 ? -errno : 0;
  (void)CloseFd(fd);
  if (n < 0) return Result(info.Env(), err);
  return Napi::String::New(info.Env(), target, static_cast<size_t>(n));
}

static_assert(sizeof(fanotify_event_metadata) == 24, "src/fanotify.ts decodes 24-byte event metadata");
static_assert(sizeof(fanotify_response) == 8, "src/fanotify.ts writes 8-byte responses");
static_assert(sizeof(fanotify_event_info_fid) == 12, "src/fanotify.ts decodes fid records with a 12-byte header");
static_assert(sizeof(file_handle) == 8, "struct file_handle has an 8-byte header");

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, double value) { c.Set(name, Napi::Number::New(env, value)); };
  set("IN_ACCESS", IN_ACCESS);
  set("IN_MODIFY", IN_MODIFY);
  set("IN_ATTRIB", IN_ATTRIB);
  set("IN_CLOSE_WRITE", IN_CLOSE_WRITE);
  set("IN_CLOSE_NOWRITE", IN_CLOSE_NOWRITE);
  set("IN_OPEN", IN_OPEN);
  set("IN_MOVED_FROM", IN_MOVED_FROM);
  set("IN_MOVED_TO", IN_MOVED_TO);
  set("IN_CREATE", IN_CREATE);
  set("IN_DELETE", IN_DELETE);
  set("IN_DELETE_SELF", IN_DELETE_SELF);
  set("IN_MOVE_SELF", IN_MOVE_SELF);
  set("IN_UNMOUNT", IN_UNMOUNT);
  set("IN_Q_OVERFLOW", IN_Q_OVERFLOW);
  set("IN_IGNORED", IN_IGNORED);
  set("IN_ISDIR", IN_ISDIR);
  set("IN_DONT_FOLLOW", IN_DONT_FOLLOW);
  set("IN_ONLYDIR", IN_ONLYDIR);
  set("IN_EXCL_UNLINK", IN_EXCL_UNLINK);
  set("FAN_ACCESS", FAN_ACCESS);
  set("FAN_MODIFY", FAN_MODIFY);
  set("FAN_ATTRIB", FAN_ATTRIB);
  set("FAN_CLOSE_WRITE", FAN_CLOSE_WRITE);
  set("FAN_CLOSE_NOWRITE", FAN_CLOSE_NOWRITE);
  set("FAN_OPEN", FAN_OPEN);
  set("FAN_MOVED_FROM", FAN_MOVED_FROM);
  set("FAN_MOVED_TO", FAN_MOVED_TO);
  set("FAN_CREATE", FAN_CREATE);
  set("FAN_DELETE", FAN_DELETE);
  set("FAN_DELETE_SELF", FAN_DELETE_SELF);
  set("FAN_MOVE_SELF", FAN_MOVE_SELF);
  set("FAN_OPEN_EXEC", FAN_OPEN_EXEC);
  set("FAN_Q_OVERFLOW", FAN_Q_OVERFLOW);
  set("FAN_OPEN_PERM", FAN_OPEN_PERM);
  set("FAN_ACCESS_PERM", FAN_ACCESS_PERM);
  set("FAN_OPEN_EXEC_PERM", FAN_OPEN_EXEC_PERM);
  set("FAN_ONDIR", FAN_ONDIR);
  set("FAN_EVENT_ON_CHILD", FAN_EVENT_ON_CHILD);
  set("FAN_CLASS_NOTIF", FAN_CLASS_NOTIF);
  set("FAN_CLASS_CONTENT", FAN_CLASS_CONTENT);
  set("FAN_REPORT_DFID_NAME", FAN_REPORT_DFID_NAME);
  set("FAN_REPORT_FID", FAN_REPORT_FID);
  set("FAN_MARK_ADD", FAN_MARK_ADD);
  set("FAN_MARK_REMOVE", FAN_MARK_REMOVE);
  set("FAN_MARK_INODE", FAN_MARK_INODE);
  set("FAN_MARK_MOUNT", FAN_MARK_MOUNT);
  set("FAN_MARK_FILESYSTEM", FAN_MARK_FILESYSTEM);
  set("FAN_MARK_ONLYDIR", FAN_MARK_ONLYDIR);
  set("FAN_ALLOW", FAN_ALLOW);
  set("FAN_DENY", FAN_DENY);
  set("FAN_NOFD", FAN_NOFD);
  set("FAN_EVENT_INFO_TYPE_FID", FAN_EVENT_INFO_TYPE_FID);
  set("FAN_EVENT_INFO_TYPE_DFID_NAME", FAN_EVENT_INFO_TYPE_DFID_NAME);
  set("FAN_EVENT_INFO_TYPE_DFID", FAN_EVENT_INFO_TYPE_DFID);
  set("FANOTIFY_METADATA_VERSION", FANOTIFY_METADATA_VERSION);
  set("O_RDONLY", O_RDONLY);
  set("O_LARGEFILE", O_LARGEFILE);
  set("SI_USER", SI_USER);
  set("SI_QUEUE", SI_QUEUE);
  return c;
}

}  // namespace

Napi::Object CreateSources(Napi::Env env) {
  Napi::Object s = Napi::Object::New(env);
  s.Set("OwnedFd", OwnedFd::Define(env));
  s.Set("timerfdCreate", Napi::Function::New(env, TimerfdCreate, "timerfdCreate"));
  s.Set("timerfdSet", Napi::Function::New(env, TimerfdSet, "timerfdSet"));
  s.Set("timerfdRead", Napi::Function::New(env, TimerfdRead, "timerfdRead"));
  s.Set("signalfdOpen", Napi::Function::New(env, SignalfdOpen, "signalfdOpen"));
  s.Set("inotifyInit", Napi::Function::New(env, InotifyInit, "inotifyInit"));
  s.Set("inotifyAdd", Napi::Function::New(env, InotifyAdd, "inotifyAdd"));
  s.Set("inotifyRm", Napi::Function::New(env, InotifyRm, "inotifyRm"));
  s.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  s.Set("pidfdStatus", Napi::Function::New(env, PidfdStatus, "pidfdStatus"));
  s.Set("fanotifyInit", Napi::Function::New(env, FanotifyInit, "fanotifyInit"));
  s.Set("fanotifyMark", Napi::Function::New(env, FanotifyMark, "fanotifyMark"));
  s.Set("fanotifyHandlePath", Napi::Function::New(env, FanotifyHandlePath, "fanotifyHandlePath"));
  s.Set("gpio", CreateGpio(env));
  s.Set("AttributeRelay", DefineAttributeRelay(env));
  s.Set("constants", Constants(env));
  return s;
}

}  // namespace fdloop::sources
