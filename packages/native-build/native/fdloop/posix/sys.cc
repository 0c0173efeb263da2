#include "fdloop/posix/sys.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include "fdloop/args.h"
#include "fdloop/posix/portable.h"
#include "fdloop/posix/syscall.h"

namespace fdloop::posix {

namespace {

// Every descriptor we create is close-on-exec (a child process must not inherit it by accident) and non-blocking
// (it is meant to be watched by a poller, and a blocking read would stall the whole event loop).

Napi::Value Result(Napi::Env env, int64_t rc) { return Napi::Number::New(env, static_cast<double>(rc)); }

// Closes a descriptor we created while unwinding from a later failure. The close result is ignored on purpose:
// the failure being reported is the interesting one, and the descriptor is released either way.
void Discard(int fd) { (void)CloseFd(fd); }

// Finishes a pair of descriptors made without flags (pipe, socketpair fallbacks): both non-blocking and
// close-on-exec, sockets prepared. Closes both on failure. Returns 0 or -errno.
[[maybe_unused]] int FinishPair(int fds[2], bool sockets) {
  int rc = MakeNonBlockingCloexec(fds[0]);
  if (rc == 0) rc = MakeNonBlockingCloexec(fds[1]);
  if (rc == 0 && sockets) rc = PrepareSocket(fds[0]);
  if (rc == 0 && sockets) rc = PrepareSocket(fds[1]);
  if (rc < 0) {
    Discard(fds[0]);
    Discard(fds[1]);
  }
  return rc;
}

union SocketAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

// Parses an IPv4 or IPv6 literal (no host names: resolving would block). Returns the address length, or 0.
socklen_t ParseAddress(const std::string& host, int port, SocketAddress* address) {
  std::memset(address, 0, sizeof(*address));
  if (inet_pton(AF_INET, host.c_str(), &address->v4.sin_addr) == 1) {
    address->v4.sin_family = AF_INET;
    address->v4.sin_port = htons(static_cast<uint16_t>(port));
    return sizeof(address->v4);
  }
  if (inet_pton(AF_INET6, host.c_str(), &address->v6.sin6_addr) == 1) {
    address->v6.sin6_family = AF_INET6;
    address->v6.sin6_port = htons(static_cast<uint16_t>(port));
    return sizeof(address->v6);
  }
  return 0;
}

bool HostPortArgs(const Napi::CallbackInfo& info, std::string* host, int* port) {
  if (!info[0].IsString()) {
    Napi::TypeError::New(info.Env(), "host must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *host = info[0].As<Napi::String>().Utf8Value();
  int64_t value = 0;
  if (!IntegerArg(info, 1, "port", 0, 65535, &value)) return false;
  *port = static_cast<int>(value);
  return true;
}

bool BoolArg(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out) {
  if (!info[index].IsBoolean()) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must be a boolean").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::Boolean>().Value();
  return true;
}

// pipe(out: Int32Array(2)) -> 0 | -errno; out = [readFd, writeFd].
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int32_t* out = nullptr;
  if (!Int32OutArg(info, 0, 2, &out)) return Napi::Value();
  int fds[2];
#if FDLOOP_SYS_PIPE2
  const int rc = Syscall([&] { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); });
#else
  int rc = Syscall([&] { return pipe(fds); });
  if (rc == 0) rc = FinishPair(fds, false);
#endif
  if (rc == 0) {
    out[0] = fds[0];
    out[1] = fds[1];
  }
  return Result(info.Env(), rc);
}

// socketpair(type: SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET, out: Int32Array(2)) -> 0 | -errno.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int64_t type = 0;
  if (!IntegerArg(info, 0, "type", 0, INT_MAX, &type)) return Napi::Value();
  if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) {
    Napi::RangeError::New(info.Env(), "type must be SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }
  int32_t* out = nullptr;
  if (!Int32OutArg(info, 1, 2, &out)) return Napi::Value();
  int fds[2];
#if FDLOOP_SYS_SOCK_FLAGS
  int rc = Syscall(
      [&] { return socketpair(AF_UNIX, static_cast<int>(type) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds); });
#if defined(SO_NOSIGPIPE) && !defined(MSG_NOSIGNAL)
  if (rc == 0) rc = FinishPair(fds, true);
#endif
#else
  int rc = Syscall([&] { return socketpair(AF_UNIX, static_cast<int>(type), 0, fds); });
  if (rc == 0) rc = FinishPair(fds, true);
#endif
  if (rc == 0) {
    out[0] = fds[0];
    out[1] = fds[1];
  }
  return Result(info.Env(), rc);
}

// eventfd(initial: number, semaphore: boolean) -> fd | -errno; -ENOSYS where eventfd is not used (off Linux).
// The arguments are checked everywhere, so bad input is a TypeError/RangeError on every system.
Napi::Value EventFd(const Napi::CallbackInfo& info) {
  int64_t initial = 0;
  bool semaphore = false;
  if (!IntegerArg(info, 0, "initial", 0, UINT_MAX, &initial)) return Napi::Value();
  if (!BoolArg(info, 1, "semaphore", &semaphore)) return Napi::Value();
#if FDLOOP_SYS_EVENTFD
  const int flags = EFD_NONBLOCK | EFD_CLOEXEC | (semaphore ? EFD_SEMAPHORE : 0);
  return Result(info.Env(), Syscall([&] { return eventfd(static_cast<unsigned int>(initial), flags); }));
#else
  return Result(info.Env(), -ENOSYS);
#endif
}

// read(fd, buffer: Uint8Array, offset, length) -> bytes | -errno.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = -1;
  ByteRange range{};
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range)) return Napi::Value();
  return Result(info.Env(), Syscall([&] { return read(fd, range.data, range.length); }));
}

// write(fd, buffer: Uint8Array, offset, length) -> bytes | -errno.
Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = -1;
  ByteRange range{};
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range)) return Napi::Value();
  return Result(info.Env(), Syscall([&] { return write(fd, range.data, range.length); }));
}

// send(fd, buffer: Uint8Array, offset, length, flags) -> bytes | -errno.
Napi::Value Send(const Napi::CallbackInfo& info) {
  int fd = -1;
  ByteRange range{};
  int64_t flags = 0;
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range) || !IntegerArg(info, 4, "flags", 0, INT_MAX, &flags)) {
    return Napi::Value();
  }
  // MSG_NOSIGNAL: a closed peer must be an EPIPE error, not a SIGPIPE (Node ignores SIGPIPE, an embedder may not).
  // (macOS: SO_NOSIGPIPE, set on every socket created here, does the same for the sockets this module made.)
  const int all_flags = static_cast<int>(flags) | kSendFlags;
  return Result(info.Env(), Syscall([&] { return send(fd, range.data, range.length, all_flags); }));
}

// recv(fd, buffer: Uint8Array, offset, length, flags) -> bytes | -errno.
Napi::Value Recv(const Napi::CallbackInfo& info) {
  int fd = -1;
  ByteRange range{};
  int64_t flags = 0;
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range) || !IntegerArg(info, 4, "flags", 0, INT_MAX, &flags)) {
    return Napi::Value();
  }
  return Result(info.Env(), Syscall([&] { return recv(fd, range.data, range.length, static_cast<int>(flags)); }));
}

// close(fd) -> 0 | -errno.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  return Result(info.Env(), CloseFd(fd));
}

// The slave's path of pty master `master`, into `name` (thread-safe: no static buffer). Returns 0 or -errno.
[[maybe_unused]] int SlaveName(int master, char* name, size_t size) {
#if defined(__APPLE__)
  // TIOCPTYGNAME fills a 128-byte buffer; ptsname_r exists only from macOS 10.13.4.
  if (size < 128) return -ERANGE;
  return Syscall([&] { return ioctl(master, TIOCPTYGNAME, name); });
#else
  // ptsname_r: glibc, musl, FreeBSD 13+, POSIX.1-2024. It returns the errno number (glibc, musl, POSIX) or -1 with
  // errno set (FreeBSD); both are handled.
  const int rc = ptsname_r(master, name, size);
  return rc == 0 ? 0 : -(rc > 0 ? rc : errno);
#endif
}

// openpty(out: Int32Array(2)) -> 0 | -errno; out = [master, slave].
Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  int32_t* out = nullptr;
  if (!Int32OutArg(info, 0, 2, &out)) return Napi::Value();
  Napi::Env env = info.Env();
  // posix_openpt + TIOCGPTPEER instead of openpty(3): openpty cannot set O_CLOEXEC atomically, and TIOCGPTPEER
  // opens the slave through the master without a path lookup in /dev/pts. Elsewhere: posix_openpt with the
  // flags POSIX allows, fcntl for the rest, and the slave opened by name.
  const int flags = O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK;
#if FDLOOP_SYS_OPENPT_FLAGS
  const int master = Syscall([&] { return posix_openpt(flags); });
  if (master < 0) return Result(env, master);
  int rc = 0;
#else
  const int master = Syscall([&] { return posix_openpt(O_RDWR | O_NOCTTY); });
  if (master < 0) return Result(env, master);
  int rc = MakeNonBlockingCloexec(master);
#endif
  if (rc == 0) rc = Syscall([&] { return grantpt(master); });
  if (rc == 0) rc = Syscall([&] { return unlockpt(master); });
  int slave = rc;
  if (rc == 0) {
#if FDLOOP_SYS_PTY_PEER
    slave = Syscall([&] { return ioctl(master, TIOCGPTPEER, flags); });
    // Kernels before 4.13 lack TIOCGPTPEER: fall back to opening the slave by name.
    if (slave == -EINVAL || slave == -ENOTTY) {
#endif
      char name[128];
      const int named = SlaveName(master, name, sizeof(name));
      slave = named != 0 ? named : Syscall([&] { return open(name, flags); });
#if FDLOOP_SYS_PTY_PEER
    }
#endif
  }
  if (slave < 0) {
    Discard(master);
    return Result(env, slave);
  }
  out[0] = master;
  out[1] = slave;
  return Result(env, 0);
}

// ptyPacketMode(masterFd, on: boolean) -> 0 | -errno.
Napi::Value PtyPacketMode(const Napi::CallbackInfo& info) {
  int fd = -1;
  bool on = false;
  if (!FdArg(info, 0, &fd) || !BoolArg(info, 1, "on", &on)) return Napi::Value();
  int value = on ? 1 : 0;
  return Result(info.Env(), Syscall([&] { return ioctl(fd, TIOCPKT, &value); }));
}

// tcpListen(host, port, backlog) -> fd | -errno. Non-blocking, SO_REUSEADDR.
Napi::Value TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host;
  int port = 0;
  int64_t backlog = 0;
  if (!HostPortArgs(info, &host, &port) || !IntegerArg(info, 2, "backlog", 0, INT_MAX, &backlog)) {
    return Napi::Value();
  }
  SocketAddress address;
  const socklen_t length = ParseAddress(host, port, &address);
  if (length == 0) return Result(env, -EINVAL);
  const int fd = NewSocket(address.any.sa_family, SOCK_STREAM);
  if (fd < 0) return Result(env, fd);
  const int one = 1;
  int rc = Syscall([&] { return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); });
  if (rc == 0) rc = Syscall([&] { return bind(fd, &address.any, length); });
  if (rc == 0) rc = Syscall([&] { return listen(fd, static_cast<int>(backlog)); });
  if (rc < 0) {
    Discard(fd);
    return Result(env, rc);
  }
  return Result(env, fd);
}

// tcpAccept(listenFd) -> fd | -errno.
Napi::Value TcpAccept(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  return Result(info.Env(), AcceptSocket(fd));
}

// tcpConnect(host, port) -> fd | -errno. The connection completes asynchronously: wait for WRITABLE, then read
// socketError(fd).
Napi::Value TcpConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host;
  int port = 0;
  if (!HostPortArgs(info, &host, &port)) return Napi::Value();
  SocketAddress address;
  const socklen_t length = ParseAddress(host, port, &address);
  if (length == 0) return Result(env, -EINVAL);
  const int fd = NewSocket(address.any.sa_family, SOCK_STREAM);
  if (fd < 0) return Result(env, fd);
  // Not retried on EINTR: an interrupted connect keeps connecting in the background (a retry would fail with
  // EALREADY), which is exactly the EINPROGRESS case.
  if (connect(fd, &address.any, length) != 0 && errno != EINPROGRESS && errno != EINTR) {
    const int err = errno;
    Discard(fd);
    return Result(env, -err);
  }
  return Result(env, fd);
}

// socketError(fd) -> pending SO_ERROR (0 if none, else a positive errno) | -errno if getsockopt failed.
Napi::Value SocketError(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  int error = 0;
  socklen_t length = sizeof(error);
  const int rc = Syscall([&] { return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length); });
  return Result(info.Env(), rc < 0 ? rc : error);
}

// localPort(fd) -> the bound port | -errno.
Napi::Value LocalPort(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  SocketAddress address;
  socklen_t length = sizeof(address);
  const int rc = Syscall([&] { return getsockname(fd, &address.any, &length); });
  if (rc < 0) return Result(info.Env(), rc);
  if (address.any.sa_family == AF_INET) return Result(info.Env(), ntohs(address.v4.sin_port));
  if (address.any.sa_family == AF_INET6) return Result(info.Env(), ntohs(address.v6.sin6_port));
  return Result(info.Env(), -EAFNOSUPPORT);
}

// Several of these are enumerators rather than macros in glibc's headers, hence the explicit conversion.
void SetConstant(Napi::Object object, const char* name, int value) {
  object.Set(name, Napi::Number::New(object.Env(), value));
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  SetConstant(constants, "EAGAIN", EAGAIN);
  SetConstant(constants, "EWOULDBLOCK", EWOULDBLOCK);
  SetConstant(constants, "ENOSYS", ENOSYS);
  SetConstant(constants, "MSG_OOB", MSG_OOB);
  SetConstant(constants, "MSG_PEEK", MSG_PEEK);
  SetConstant(constants, "MSG_DONTWAIT", MSG_DONTWAIT);
  SetConstant(constants, "SOCK_STREAM", SOCK_STREAM);
  SetConstant(constants, "SOCK_DGRAM", SOCK_DGRAM);
  SetConstant(constants, "SOCK_SEQPACKET", SOCK_SEQPACKET);
  SetConstant(constants, "TIOCPKT_DATA", TIOCPKT_DATA);
  SetConstant(constants, "TIOCPKT_FLUSHREAD", TIOCPKT_FLUSHREAD);
  SetConstant(constants, "TIOCPKT_FLUSHWRITE", TIOCPKT_FLUSHWRITE);
  SetConstant(constants, "TIOCPKT_STOP", TIOCPKT_STOP);
  SetConstant(constants, "TIOCPKT_START", TIOCPKT_START);
  SetConstant(constants, "TIOCPKT_NOSTOP", TIOCPKT_NOSTOP);
  SetConstant(constants, "TIOCPKT_DOSTOP", TIOCPKT_DOSTOP);
  return constants;
}

// Which of the Linux-only paths this build uses (false: the portable fallback), for tests and diagnostics.
Napi::Object Features(Napi::Env env) {
  Napi::Object features = Napi::Object::New(env);
  features.Set("pipe2", Napi::Boolean::New(env, FDLOOP_SYS_PIPE2 != 0));
  features.Set("socketFlags", Napi::Boolean::New(env, FDLOOP_SYS_SOCK_FLAGS != 0));
  features.Set("accept4", Napi::Boolean::New(env, FDLOOP_SYS_ACCEPT4 != 0));
  features.Set("eventfd", Napi::Boolean::New(env, FDLOOP_SYS_EVENTFD != 0));
  features.Set("ptyPeer", Napi::Boolean::New(env, FDLOOP_SYS_PTY_PEER != 0));
  features.Set("openptFlags", Napi::Boolean::New(env, FDLOOP_SYS_OPENPT_FLAGS != 0));
  return features;
}

}  // namespace

Napi::Object CreateSys(Napi::Env env) {
  Napi::Object sys = Napi::Object::New(env);
  sys.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  sys.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  sys.Set("eventfd", Napi::Function::New(env, EventFd, "eventfd"));
  sys.Set("read", Napi::Function::New(env, Read, "read"));
  sys.Set("write", Napi::Function::New(env, Write, "write"));
  sys.Set("send", Napi::Function::New(env, Send, "send"));
  sys.Set("recv", Napi::Function::New(env, Recv, "recv"));
  sys.Set("close", Napi::Function::New(env, Close, "close"));
  sys.Set("openpty", Napi::Function::New(env, OpenPty, "openpty"));
  sys.Set("ptyPacketMode", Napi::Function::New(env, PtyPacketMode, "ptyPacketMode"));
  sys.Set("tcpListen", Napi::Function::New(env, TcpListen, "tcpListen"));
  sys.Set("tcpAccept", Napi::Function::New(env, TcpAccept, "tcpAccept"));
  sys.Set("tcpConnect", Napi::Function::New(env, TcpConnect, "tcpConnect"));
  sys.Set("socketError", Napi::Function::New(env, SocketError, "socketError"));
  sys.Set("localPort", Napi::Function::New(env, LocalPort, "localPort"));
  sys.Set("constants", Constants(env));
  sys.Set("features", Features(env));
  return sys;
}

}  // namespace fdloop::posix
