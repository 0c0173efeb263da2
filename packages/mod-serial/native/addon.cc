// Entry point of fdloop_serial.node: the serial-port system calls that Node cannot make (termios2, modem-line and
// RS-485 ioctls, flock, non-blocking read/write on a tty). Every function returns a non-negative result or
// `-errno`; the TypeScript layer (src/native.ts, src/port.ts) validates arguments first and builds the typed
// errors. Nothing here calls back into JavaScript, so nothing can run after a port or an environment is gone.
//
// State is per environment (main thread and each worker): the set of descriptors opened through `open` and not
// yet closed. When a worker terminates with ports open, the instance-data finalizer closes them, which also
// releases their flock, so a port opened by a terminated worker can be opened again.
#include <napi.h>

#include <fcntl.h>
#include <linux/serial.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <string>
#include <unordered_set>

#include "fdloop/args.h"
#include "fdloop/posix/syscall.h"
#include "serial.h"

namespace {

using fdloop::ByteRange;
using fdloop::ByteRangeArgs;
using fdloop::FdArg;
using fdloop::Int32OutArg;
using fdloop::IntegerArg;
using fdloop::posix::CloseFd;
using fdloop::posix::Syscall;
using fdloop::serial::kSettingsCount;

struct EnvData {
  std::unordered_set<int> fds;
};

void FinalizeEnv(Napi::Env /*env*/, EnvData* data) {
  // The environment is going away (a worker terminated, or the process exits): release every descriptor the
  // JavaScript side can no longer close. close() results are ignored: nobody is left to report them to.
  for (int fd : data->fds) (void)close(fd);
  delete data;
}

EnvData* Data(Napi::Env env) { return env.GetInstanceData<EnvData>(); }

Napi::Value Result(Napi::Env env, int64_t rc) { return Napi::Number::New(env, static_cast<double>(rc)); }

// Which step of open() failed, reported in out[0] so the error names the right system call.
enum OpenStep : int32_t { kStepOpen = 0, kStepTermios = 1, kStepExclusive = 2, kStepLock = 3 };

// open(path, exclusive, out: Int32Array(1)) -> fd | -errno. Opens O_NONBLOCK (a tty open can otherwise wait for
// carrier detect) and O_NOCTTY (the port must never become our controlling terminal), checks that it is a
// terminal (TCGETS2 fails with ENOTTY otherwise), and with `exclusive` sets TIOCEXCL (other opens fail with EBUSY,
// except for root) and takes a non-blocking flock (which also stops root, and other processes that lock, such as
// serialport and minicom): a held lock is reported as EBUSY.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsBoolean()) {
    Napi::TypeError::New(env, "open(path: string, exclusive: boolean, out)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int32_t* step = nullptr;
  if (!Int32OutArg(info, 2, 1, &step)) return env.Undefined();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const bool exclusive = info[1].As<Napi::Boolean>().Value();

  *step = kStepOpen;
  const int fd = Syscall([&] { return open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC); });
  if (fd < 0) return Result(env, fd);

  int32_t settings[kSettingsCount];
  *step = kStepTermios;
  int rc = fdloop::serial::GetSettings(fd, settings);
  if (rc == 0 && exclusive) {
    *step = kStepExclusive;
    rc = Syscall([&] { return ioctl(fd, TIOCEXCL); });
    if (rc == 0) {
      *step = kStepLock;
      rc = Syscall([&] { return flock(fd, LOCK_EX | LOCK_NB); });
      if (rc == -EWOULDBLOCK) rc = -EBUSY;
    }
  }
  if (rc < 0) {
    // Unwinding: the failure being reported is the interesting one; the descriptor is released either way.
    (void)close(fd);
    return Result(env, rc);
  }
  Data(env)->fds.insert(fd);
  return Result(env, fd);
}

// close(fd) -> 0 | -errno. EINTR counts as success: Linux has released the descriptor by then.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!FdArg(info, 0, &fd)) return env.Undefined();
  Data(env)->fds.erase(fd);
  return Result(env, CloseFd(fd));
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  ByteRange range{};
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range)) return env.Undefined();
  return Result(env, Syscall([&] { return read(fd, range.data, range.length); }));
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  ByteRange range{};
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range)) return env.Undefined();
  return Result(env, Syscall([&] { return write(fd, range.data, range.length); }));
}

// getSettings(fd, out: Int32Array) -> 0 | -errno.
Napi::Value GetSettings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int32_t* out = nullptr;
  if (!FdArg(info, 0, &fd) || !Int32OutArg(info, 1, kSettingsCount, &out)) return env.Undefined();
  return Result(env, fdloop::serial::GetSettings(fd, out));
}

// applySettings(fd, settings: Int32Array, readBack: Int32Array) -> 0 | -errno.
Napi::Value ApplySettings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int32_t* in = nullptr;
  int32_t* out = nullptr;
  if (!FdArg(info, 0, &fd) || !Int32OutArg(info, 1, kSettingsCount, &in) ||
      !Int32OutArg(info, 2, kSettingsCount, &out)) {
    return env.Undefined();
  }
  if (in[fdloop::serial::kBaudRate] <= 0) {
    Napi::RangeError::New(env, "baud rate must be positive").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Result(env, fdloop::serial::ApplySettings(fd, in, out));
}

// lowLatency(fd, on) -> 0 | -errno (ENOTTY or EINVAL where the driver has no serial_struct, such as ptys).
Napi::Value LowLatency(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!FdArg(info, 0, &fd) || !info[1].IsBoolean()) return env.Undefined();
  serial_struct ss{};
  int rc = Syscall([&] { return ioctl(fd, TIOCGSERIAL, &ss); });
  if (rc < 0) return Result(env, rc);
  if (info[1].As<Napi::Boolean>().Value()) {
    ss.flags |= ASYNC_LOW_LATENCY;
  } else {
    ss.flags &= ~ASYNC_LOW_LATENCY;
  }
  return Result(env, Syscall([&] { return ioctl(fd, TIOCSSERIAL, &ss); }));
}

// modemGet(fd) -> TIOCM_* bits | -errno.
Napi::Value ModemGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!FdArg(info, 0, &fd)) return env.Undefined();
  int bits = 0;
  const int rc = Syscall([&] { return ioctl(fd, TIOCMGET, &bits); });
  return Result(env, rc < 0 ? rc : bits);
}

// modemSet(fd, set, clear) -> 0 | -errno: TIOCMBIS with `set`, then TIOCMBIC with `clear` (each only if non-zero).
Napi::Value ModemSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int64_t set = 0;
  int64_t clear = 0;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "set", 0, INT_MAX, &set) ||
      !IntegerArg(info, 2, "clear", 0, INT_MAX, &clear)) {
    return env.Undefined();
  }
  int bits = static_cast<int>(set);
  if (bits != 0) {
    const int rc = Syscall([&] { return ioctl(fd, TIOCMBIS, &bits); });
    if (rc < 0) return Result(env, rc);
  }
  bits = static_cast<int>(clear);
  if (bits != 0) {
    const int rc = Syscall([&] { return ioctl(fd, TIOCMBIC, &bits); });
    if (rc < 0) return Result(env, rc);
  }
  return Result(env, 0);
}

Napi::Value QueueLength(const Napi::CallbackInfo& info, unsigned long request) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!FdArg(info, 0, &fd)) return env.Undefined();
  int count = 0;
  const int rc = Syscall([&] { return ioctl(fd, request, &count); });
  return Result(env, rc < 0 ? rc : count);
}

// outq(fd) -> bytes in the driver's output queue (TIOCOUTQ) | -errno.
Napi::Value OutQ(const Napi::CallbackInfo& info) { return QueueLength(info, TIOCOUTQ); }
// inq(fd) -> bytes waiting to be read (TIOCINQ) | -errno.
Napi::Value InQ(const Napi::CallbackInfo& info) { return QueueLength(info, TIOCINQ); }

// flush(fd, queue) -> 0 | -errno; queue is TCIFLUSH, TCOFLUSH or TCIOFLUSH.
Napi::Value Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int64_t queue = 0;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "queue", 0, 2, &queue)) return env.Undefined();
  return Result(env, Syscall([&] { return tcflush(fd, static_cast<int>(queue)); }));
}

// setBreak(fd, on) -> 0 | -errno. TIOCSBRK/TIOCCBRK return at once; the break's length is timed by the caller
// with a runtime timer (tcsendbreak would sleep on this thread).
Napi::Value SetBreak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!FdArg(info, 0, &fd) || !info[1].IsBoolean()) return env.Undefined();
  const unsigned long request = info[1].As<Napi::Boolean>().Value() ? TIOCSBRK : TIOCCBRK;
  return Result(env, Syscall([&] { return ioctl(fd, request); }));
}

// rs485Get(fd, out: Int32Array(3)) -> 0 | -errno; out = [flags, delayRtsBeforeSend, delayRtsAfterSend].
Napi::Value Rs485Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int32_t* out = nullptr;
  if (!FdArg(info, 0, &fd) || !Int32OutArg(info, 1, 3, &out)) return env.Undefined();
  serial_rs485 rs{};
  const int rc = Syscall([&] { return ioctl(fd, TIOCGRS485, &rs); });
  if (rc < 0) return Result(env, rc);
  out[0] = static_cast<int32_t>(rs.flags);
  out[1] = static_cast<int32_t>(rs.delay_rts_before_send);
  out[2] = static_cast<int32_t>(rs.delay_rts_after_send);
  return Result(env, 0);
}

// rs485Set(fd, in: Int32Array(3)) -> 0 | -errno.
Napi::Value Rs485Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int32_t* in = nullptr;
  if (!FdArg(info, 0, &fd) || !Int32OutArg(info, 1, 3, &in)) return env.Undefined();
  serial_rs485 rs{};
  rs.flags = static_cast<uint32_t>(in[0]);
  rs.delay_rts_before_send = static_cast<uint32_t>(in[1]);
  rs.delay_rts_after_send = static_cast<uint32_t>(in[2]);
  return Result(env, Syscall([&] { return ioctl(fd, TIOCSRS485, &rs); }));
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, int64_t value) { c.Set(name, Napi::Number::New(env, static_cast<double>(value))); };
  set("TIOCM_DTR", TIOCM_DTR);
  set("TIOCM_RTS", TIOCM_RTS);
  set("TIOCM_CTS", TIOCM_CTS);
  set("TIOCM_DSR", TIOCM_DSR);
  set("TIOCM_CD", TIOCM_CD);
  set("TIOCM_RI", TIOCM_RI);
  set("TCIFLUSH", TCIFLUSH);
  set("TCOFLUSH", TCOFLUSH);
  set("TCIOFLUSH", TCIOFLUSH);
  set("SER_RS485_ENABLED", SER_RS485_ENABLED);
  set("SER_RS485_RTS_ON_SEND", SER_RS485_RTS_ON_SEND);
  set("SER_RS485_RTS_AFTER_SEND", SER_RS485_RTS_AFTER_SEND);
  set("SER_RS485_RX_DURING_TX", SER_RS485_RX_DURING_TX);
  set("SER_RS485_TERMINATE_BUS", SER_RS485_TERMINATE_BUS);
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<EnvData, FinalizeEnv>(new EnvData());
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("getSettings", Napi::Function::New(env, GetSettings, "getSettings"));
  exports.Set("applySettings", Napi::Function::New(env, ApplySettings, "applySettings"));
  exports.Set("lowLatency", Napi::Function::New(env, LowLatency, "lowLatency"));
  exports.Set("modemGet", Napi::Function::New(env, ModemGet, "modemGet"));
  exports.Set("modemSet", Napi::Function::New(env, ModemSet, "modemSet"));
  exports.Set("outq", Napi::Function::New(env, OutQ, "outq"));
  exports.Set("inq", Napi::Function::New(env, InQ, "inq"));
  exports.Set("flush", Napi::Function::New(env, Flush, "flush"));
  exports.Set("setBreak", Napi::Function::New(env, SetBreak, "setBreak"));
  exports.Set("rs485Get", Napi::Function::New(env, Rs485Get, "rs485Get"));
  exports.Set("rs485Set", Napi::Function::New(env, Rs485Set, "rs485Set"));
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(fdloop_serial, Init)
