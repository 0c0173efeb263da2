#include "fdloop/posix/sock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fdloop/args.h"
#include "fdloop/posix/portable.h"
#include "fdloop/posix/syscall.h"

namespace fdloop::posix {

namespace {

// writev batches at most this many buffers per call; the rest wait for the next call (the caller loops).
#ifdef IOV_MAX
constexpr size_t kMaxIov = IOV_MAX < 1024 ? IOV_MAX : 1024;
#else
constexpr size_t kMaxIov = 16;  // POSIX's minimum _XOPEN_IOV_MAX
#endif

Napi::Value Result(Napi::Env env, int64_t rc) { return Napi::Number::New(env, static_cast<double>(rc)); }

union SocketAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;
  sockaddr_un un;
  sockaddr_storage storage;
};

// Reads (family, host-or-path, port) at `index`, `index + 1`, `index + 2` into `address`. Host names are not
// accepted (resolving would block): IPv4/IPv6 literals, or a filesystem path for AF_UNIX. Returns the address
// length, 0 with a JS exception pending for a malformed argument, or -errno for an address the kernel could not
// take (EINVAL for a literal that does not parse, ENAMETOOLONG for a long unix path).
int AddressArgs(const Napi::CallbackInfo& info, size_t index, SocketAddress* address, socklen_t* length) {
  int64_t family = 0;
  if (!IntegerArg(info, index, "family", 0, INT_MAX, &family)) return 0;
  if (!info[index + 1].IsString()) {
    Napi::TypeError::New(info.Env(), "address must be a string").ThrowAsJavaScriptException();
    return 0;
  }
  const std::string host = info[index + 1].As<Napi::String>().Utf8Value();
  std::memset(address, 0, sizeof(*address));
  if (family == AF_UNIX) {
    if (host.empty() || host.size() >= sizeof(address->un.sun_path) || host.find('\0') != std::string::npos) {
      *length = 0;
      return host.empty() || host.find('\0') != std::string::npos ? -EINVAL : -ENAMETOOLONG;
    }
    address->un.sun_family = AF_UNIX;
    std::memcpy(address->un.sun_path, host.data(), host.size());
    *length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + host.size() + 1);
    return 1;
  }
  int64_t port = 0;
  if (!IntegerArg(info, index + 2, "port", 0, 65535, &port)) return 0;
  if (family == AF_INET && inet_pton(AF_INET, host.c_str(), &address->v4.sin_addr) == 1) {
    address->v4.sin_family = AF_INET;
    address->v4.sin_port = htons(static_cast<uint16_t>(port));
    *length = sizeof(address->v4);
    return 1;
  }
  if (family == AF_INET6 && inet_pton(AF_INET6, host.c_str(), &address->v6.sin6_addr) == 1) {
    address->v6.sin6_family = AF_INET6;
    address->v6.sin6_port = htons(static_cast<uint16_t>(port));
    *length = sizeof(address->v6);
    return 1;
  }
  if (family != AF_INET && family != AF_INET6) return -EAFNOSUPPORT;
  return -EINVAL;
}

// Writes a kernel address into `out` as { family: 'IPv4' | 'IPv6' | 'unix', address, port } (Node's names).
void DescribeAddress(Napi::Env env, const SocketAddress& address, socklen_t length, Napi::Object out) {
  char text[INET6_ADDRSTRLEN] = {0};
  switch (address.any.sa_family) {
    case AF_INET:
      inet_ntop(AF_INET, &address.v4.sin_addr, text, sizeof(text));
      out.Set("family", Napi::String::New(env, "IPv4"));
      out.Set("address", Napi::String::New(env, text));
      out.Set("port", Napi::Number::New(env, ntohs(address.v4.sin_port)));
      return;
    case AF_INET6:
      inet_ntop(AF_INET6, &address.v6.sin6_addr, text, sizeof(text));
      out.Set("family", Napi::String::New(env, "IPv6"));
      out.Set("address", Napi::String::New(env, text));
      out.Set("port", Napi::Number::New(env, ntohs(address.v6.sin6_port)));
      return;
    case AF_UNIX: {
      // An unnamed socket (socketpair, an unbound client) has no path: length covers only the family.
      const size_t base = offsetof(sockaddr_un, sun_path);
      size_t size = length > base ? static_cast<size_t>(length) - base : 0;
      size = strnlen(address.un.sun_path, size < sizeof(address.un.sun_path) ? size : sizeof(address.un.sun_path));
      out.Set("family", Napi::String::New(env, "unix"));
      out.Set("address", Napi::String::New(env, std::string(address.un.sun_path, size)));
      out.Set("port", Napi::Number::New(env, 0));
      return;
    }
    default:
      out.Set("family", Napi::String::New(env, "unknown"));
      out.Set("address", Napi::String::New(env, ""));
      out.Set("port", Napi::Number::New(env, 0));
  }
}

bool ObjectArg(const Napi::CallbackInfo& info, size_t index, Napi::Object* out) {
  if (!info[index].IsObject()) {
    Napi::TypeError::New(info.Env(), "out must be an object").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::Object>();
  return true;
}

// socket(family, type) -> fd | -errno. Non-blocking, close-on-exec (atomically where SOCK_NONBLOCK exists; the
// fallbacks of posix/portable.h elsewhere and under FDLOOP_FORCE_PORTABLE).
Napi::Value Socket(const Napi::CallbackInfo& info) {
  int64_t family = 0;
  int64_t type = 0;
  if (!IntegerArg(info, 0, "family", 0, INT_MAX, &family) || !IntegerArg(info, 1, "type", 0, INT_MAX, &type)) {
    return Napi::Value();
  }
  return Result(info.Env(), NewSocket(static_cast<int>(family), static_cast<int>(type)));
}

// bind(fd, family, address, port) -> 0 | -errno.
Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  SocketAddress address;
  socklen_t length = 0;
  const int ok = AddressArgs(info, 1, &address, &length);
  if (ok == 0) return Napi::Value();
  if (ok < 0) return Result(info.Env(), ok);
  return Result(info.Env(), Syscall([&] { return bind(fd, &address.any, length); }));
}

// listen(fd, backlog) -> 0 | -errno.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd = -1;
  int64_t backlog = 0;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "backlog", 0, INT_MAX, &backlog)) return Napi::Value();
  return Result(info.Env(), Syscall([&] { return listen(fd, static_cast<int>(backlog)); }));
}

// accept(fd) -> fd | -errno. The new descriptor is non-blocking and close-on-exec.
Napi::Value Accept(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  return Result(info.Env(), AcceptSocket(fd));
}

// connect(fd, family, address, port) -> 0 (connected) | -EINPROGRESS (wait for WRITABLE, then SO_ERROR) | -errno.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  SocketAddress address;
  socklen_t length = 0;
  const int ok = AddressArgs(info, 1, &address, &length);
  if (ok == 0) return Napi::Value();
  if (ok < 0) return Result(info.Env(), ok);
  // Not retried on EINTR: an interrupted connect keeps connecting in the background (a retry would fail with
  // EALREADY), which is exactly the EINPROGRESS case.
  if (connect(fd, &address.any, length) == 0) return Result(info.Env(), 0);
  const int err = errno;
  return Result(info.Env(), err == EINTR ? -EINPROGRESS : -err);
}

// shutdown(fd, how: SHUT_RD | SHUT_WR | SHUT_RDWR) -> 0 | -errno.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = -1;
  int64_t how = 0;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "how", 0, 2, &how)) return Napi::Value();
  return Result(info.Env(), Syscall([&] { return shutdown(fd, static_cast<int>(how)); }));
}

// setOption(fd, level, name, value) -> 0 | -errno, for the integer-valued options.
Napi::Value SetOption(const Napi::CallbackInfo& info) {
  int fd = -1;
  int64_t level = 0;
  int64_t name = 0;
  int64_t value = 0;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "level", 0, INT_MAX, &level) ||
      !IntegerArg(info, 2, "name", 0, INT_MAX, &name) || !IntegerArg(info, 3, "value", INT_MIN, INT_MAX, &value)) {
    return Napi::Value();
  }
  const int v = static_cast<int>(value);
  return Result(info.Env(), Syscall([&] {
                  return setsockopt(fd, static_cast<int>(level), static_cast<int>(name), &v, sizeof(v));
                }));
}

// getOption(fd, level, name, out: Int32Array(1)) -> 0 | -errno, for the integer-valued options.
Napi::Value GetOption(const Napi::CallbackInfo& info) {
  int fd = -1;
  int64_t level = 0;
  int64_t name = 0;
  int32_t* out = nullptr;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "level", 0, INT_MAX, &level) ||
      !IntegerArg(info, 2, "name", 0, INT_MAX, &name) || !Int32OutArg(info, 3, 1, &out)) {
    return Napi::Value();
  }
  int value = 0;
  socklen_t length = sizeof(value);
  const int rc = Syscall(
      [&] { return getsockopt(fd, static_cast<int>(level), static_cast<int>(name), &value, &length); });
  if (rc == 0) out[0] = value;
  return Result(info.Env(), rc);
}

Napi::Value NameOf(const Napi::CallbackInfo& info, bool peer) {
  int fd = -1;
  Napi::Object out;
  if (!FdArg(info, 0, &fd) || !ObjectArg(info, 1, &out)) return Napi::Value();
  SocketAddress address;
  std::memset(&address, 0, sizeof(address));
  socklen_t length = sizeof(address);
  const int rc = Syscall([&] {
    return peer ? getpeername(fd, &address.any, &length) : getsockname(fd, &address.any, &length);
  });
  if (rc < 0) return Result(info.Env(), rc);
  DescribeAddress(info.Env(), address, length, out);
  return Result(info.Env(), 0);
}

// localAddress(fd, out) / peerAddress(fd, out) -> 0 | -errno; out gets { family, address, port }.
Napi::Value LocalAddress(const Napi::CallbackInfo& info) { return NameOf(info, false); }
Napi::Value PeerAddress(const Napi::CallbackInfo& info) { return NameOf(info, true); }

// send(fd, buffer, offset, length) -> bytes | -errno. Never raises SIGPIPE: a closed peer is EPIPE.
Napi::Value Send(const Napi::CallbackInfo& info) {
  int fd = -1;
  ByteRange range{};
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range)) return Napi::Value();
  return Result(info.Env(), Syscall([&] { return send(fd, range.data, range.length, kSendFlags); }));
}

// writev(fd, buffers: Uint8Array[], first, offset) -> bytes | -errno. Sends buffers[first] from byte `offset`,
// then the following buffers, in one sendmsg (at most IOV_MAX of them; the caller loops for the rest).
Napi::Value Writev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  if (!info[1].IsArray()) {
    Napi::TypeError::New(env, "buffers must be an array").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  Napi::Array buffers = info[1].As<Napi::Array>();
  const uint32_t count = buffers.Length();
  int64_t first = 0;
  int64_t offset = 0;
  if (!IntegerArg(info, 2, "first", 0, count, &first) || !IntegerArg(info, 3, "offset", 0, INT64_MAX >> 12, &offset)) {
    return Napi::Value();
  }
  iovec iov[kMaxIov];
  size_t used = 0;
  for (uint32_t i = static_cast<uint32_t>(first); i < count && used < kMaxIov; ++i) {
    napi_value element = nullptr;
    napi_typedarray_type type = napi_int8_array;
    size_t size = 0;
    void* data = nullptr;
    if (napi_get_element(env, buffers, i, &element) != napi_ok ||
        napi_get_typedarray_info(env, element, &type, &size, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      Napi::TypeError::New(env, "buffers must hold Uint8Arrays").ThrowAsJavaScriptException();
      return Napi::Value();
    }
    size_t skip = 0;
    if (i == first) {
      if (static_cast<uint64_t>(offset) > size) {
        Napi::RangeError::New(env, "offset is past the end of the first buffer").ThrowAsJavaScriptException();
        return Napi::Value();
      }
      skip = static_cast<size_t>(offset);
    }
    if (size == skip) continue;
    iov[used].iov_base = static_cast<uint8_t*>(data) + skip;
    iov[used].iov_len = size - skip;
    ++used;
  }
  if (used == 0) return Result(env, 0);
  msghdr message;
  std::memset(&message, 0, sizeof(message));
  message.msg_iov = iov;
  message.msg_iovlen = static_cast<decltype(message.msg_iovlen)>(used);
  return Result(env, Syscall([&] { return sendmsg(fd, &message, kSendFlags); }));
}

// sendTo(fd, buffer, offset, length, family, address, port) -> bytes | -errno (one datagram).
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  int fd = -1;
  ByteRange range{};
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range)) return Napi::Value();
  SocketAddress address;
  socklen_t length = 0;
  const int ok = AddressArgs(info, 4, &address, &length);
  if (ok == 0) return Napi::Value();
  if (ok < 0) return Result(info.Env(), ok);
  return Result(info.Env(),
                Syscall([&] { return sendto(fd, range.data, range.length, kSendFlags, &address.any, length); }));
}

// recvFrom(fd, buffer, offset, length, out) -> bytes | -errno; out gets the sender's { family, address, port }.
Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  int fd = -1;
  ByteRange range{};
  Napi::Object out;
  if (!FdArg(info, 0, &fd) || !ByteRangeArgs(info, 1, &range) || !ObjectArg(info, 4, &out)) return Napi::Value();
  SocketAddress address;
  std::memset(&address, 0, sizeof(address));
  socklen_t length = sizeof(address);
  const ssize_t rc = Syscall([&] { return recvfrom(fd, range.data, range.length, 0, &address.any, &length); });
  if (rc >= 0 && length == 0) {
    // An unbound unix sender has no address at all (length 0, family unset): report our own family with an
    // empty path rather than an unknown family.
    SocketAddress own;
    socklen_t own_length = sizeof(own);
    if (getsockname(fd, &own.any, &own_length) == 0) address.any.sa_family = own.any.sa_family;
    length = static_cast<socklen_t>(sizeof(sa_family_t));
  }
  if (rc >= 0) DescribeAddress(info.Env(), address, length, out);
  return Result(info.Env(), rc);
}

// describe(fd, out: Int32Array(3)) -> 0 | -errno; out = [family, type, listening (0/1)]. For adopt(fd).
Napi::Value Describe(const Napi::CallbackInfo& info) {
  int fd = -1;
  int32_t* out = nullptr;
  if (!FdArg(info, 0, &fd) || !Int32OutArg(info, 1, 3, &out)) return Napi::Value();
  SocketAddress address;
  socklen_t length = sizeof(address);
  int rc = Syscall([&] { return getsockname(fd, &address.any, &length); });
  if (rc < 0) return Result(info.Env(), rc);
  int type = 0;
  socklen_t size = sizeof(type);
  rc = Syscall([&] { return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size); });
  if (rc < 0) return Result(info.Env(), rc);
  int listening = 0;
#ifdef SO_ACCEPTCONN
  size = sizeof(listening);
  if (Syscall([&] { return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size); }) < 0) listening = 0;
#endif
  out[0] = address.any.sa_family;
  out[1] = type;
  out[2] = listening != 0 ? 1 : 0;
  return Result(info.Env(), 0);
}

// prepare(fd) -> 0 | -errno: make an adopted socket non-blocking and close-on-exec.
Napi::Value Prepare(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  int rc = MakeNonBlockingCloexec(fd);
  if (rc == 0) rc = PrepareSocket(fd);
  return Result(info.Env(), rc);
}

// unlink(path) -> 0 | -errno, for removing a stale unix socket path before bind.
Napi::Value Unlink(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) {
    Napi::TypeError::New(info.Env(), "path must be a string").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  return Result(info.Env(), Syscall([&] { return unlink(path.c_str()); }));
}

void SetConstant(Napi::Object object, const char* name, int value) {
  object.Set(name, Napi::Number::New(object.Env(), value));
}

// Options a platform lacks are reported as -1, which the TypeScript layer turns into an UnsupportedError.
Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  SetConstant(c, "AF_INET", AF_INET);
  SetConstant(c, "AF_INET6", AF_INET6);
  SetConstant(c, "AF_UNIX", AF_UNIX);
  SetConstant(c, "SOCK_STREAM", SOCK_STREAM);
  SetConstant(c, "SOCK_DGRAM", SOCK_DGRAM);
  SetConstant(c, "SHUT_RD", SHUT_RD);
  SetConstant(c, "SHUT_WR", SHUT_WR);
  SetConstant(c, "SHUT_RDWR", SHUT_RDWR);
  SetConstant(c, "SOL_SOCKET", SOL_SOCKET);
  SetConstant(c, "IPPROTO_TCP", IPPROTO_TCP);
  SetConstant(c, "IPPROTO_IPV6", IPPROTO_IPV6);
  SetConstant(c, "SO_REUSEADDR", SO_REUSEADDR);
#ifdef SO_REUSEPORT
  SetConstant(c, "SO_REUSEPORT", SO_REUSEPORT);
#else
  SetConstant(c, "SO_REUSEPORT", -1);
#endif
  SetConstant(c, "SO_KEEPALIVE", SO_KEEPALIVE);
  SetConstant(c, "SO_BROADCAST", SO_BROADCAST);
  SetConstant(c, "SO_RCVBUF", SO_RCVBUF);
  SetConstant(c, "SO_SNDBUF", SO_SNDBUF);
  SetConstant(c, "TCP_NODELAY", TCP_NODELAY);
#if defined(TCP_KEEPIDLE)
  SetConstant(c, "TCP_KEEPIDLE", TCP_KEEPIDLE);
#elif defined(TCP_KEEPALIVE)
  SetConstant(c, "TCP_KEEPIDLE", TCP_KEEPALIVE);  // macOS spells it TCP_KEEPALIVE
#else
  SetConstant(c, "TCP_KEEPIDLE", -1);
#endif
#ifdef TCP_KEEPINTVL
  SetConstant(c, "TCP_KEEPINTVL", TCP_KEEPINTVL);
#else
  SetConstant(c, "TCP_KEEPINTVL", -1);
#endif
#ifdef TCP_KEEPCNT
  SetConstant(c, "TCP_KEEPCNT", TCP_KEEPCNT);
#else
  SetConstant(c, "TCP_KEEPCNT", -1);
#endif
  SetConstant(c, "IPV6_V6ONLY", IPV6_V6ONLY);
  SetConstant(c, "EINPROGRESS", EINPROGRESS);
  SetConstant(c, "EAGAIN", EAGAIN);
  SetConstant(c, "IOV_MAX", static_cast<int>(kMaxIov));
  return c;
}

}  // namespace

Napi::Object CreateSock(Napi::Env env) {
  Napi::Object sock = Napi::Object::New(env);
  sock.Set("socket", Napi::Function::New(env, Socket, "socket"));
  sock.Set("bind", Napi::Function::New(env, Bind, "bind"));
  sock.Set("listen", Napi::Function::New(env, Listen, "listen"));
  sock.Set("accept", Napi::Function::New(env, Accept, "accept"));
  sock.Set("connect", Napi::Function::New(env, Connect, "connect"));
  sock.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  sock.Set("setOption", Napi::Function::New(env, SetOption, "setOption"));
  sock.Set("getOption", Napi::Function::New(env, GetOption, "getOption"));
  sock.Set("localAddress", Napi::Function::New(env, LocalAddress, "localAddress"));
  sock.Set("peerAddress", Napi::Function::New(env, PeerAddress, "peerAddress"));
  sock.Set("send", Napi::Function::New(env, Send, "send"));
  sock.Set("writev", Napi::Function::New(env, Writev, "writev"));
  sock.Set("sendTo", Napi::Function::New(env, SendTo, "sendTo"));
  sock.Set("recvFrom", Napi::Function::New(env, RecvFrom, "recvFrom"));
  sock.Set("describe", Napi::Function::New(env, Describe, "describe"));
  sock.Set("prepare", Napi::Function::New(env, Prepare, "prepare"));
  sock.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  sock.Set("constants", Constants(env));
  return sock;
}

}  // namespace fdloop::posix
