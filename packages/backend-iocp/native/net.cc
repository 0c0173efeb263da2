#include "net.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "win.h"

// afunix.h after the Winsock headers (win.h): sockaddr_un for AF_UNIX stream sockets (Windows 10 1803+).
#include <afunix.h>

// Windows 10 1709+ spells these in ws2ipdef.h; older mingw-w64 headers lack them.
#ifndef TCP_KEEPIDLE
#define TCP_KEEPIDLE 3
#endif
#ifndef TCP_KEEPCNT
#define TCP_KEEPCNT 16
#endif
#ifndef TCP_KEEPINTVL
#define TCP_KEEPINTVL 17
#endif

namespace fdloop_iocp {
namespace {

// writev sends at most this many buffers per call (WSASend has no documented limit; the caller loops).
constexpr DWORD kMaxIov = 1024;

Napi::Value Result(Napi::Env env, double rc) { return Napi::Number::New(env, rc); }

Napi::Value Fail(Napi::Env env, DWORD error) { return Napi::Number::New(env, -static_cast<double>(error)); }

Registry* RegistryOf(const Napi::CallbackInfo& info) { return static_cast<Registry*>(info.Data()); }

// The last Winsock error as -code; a would-block also re-arms edge-triggered registrations of `sock`.
Napi::Value SocketFail(const Napi::CallbackInfo& info, SOCKET sock, int direction) {
  int error = WSAGetLastError();
  if (error == WSAEWOULDBLOCK && direction != 0) NoteWouldBlock(RegistryOf(info), sock, direction);
  return Fail(info.Env(), static_cast<DWORD>(error));
}

bool ThrowType(const Napi::CallbackInfo& info, const char* message) {
  Napi::TypeError::New(info.Env(), message).ThrowAsJavaScriptException();
  return false;
}

bool SocketArg(const Napi::CallbackInfo& info, size_t index, SOCKET* out) {
  if (!info[index].IsNumber()) return ThrowType(info, "fd must be a number");
  double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 9007199254740991.0) || v != static_cast<double>(static_cast<int64_t>(v))) {
    Napi::RangeError::New(info.Env(), "fd must be a non-negative integer").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<SOCKET>(static_cast<int64_t>(v));
  return true;
}

bool IntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max, int64_t* out) {
  if (!info[index].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(name) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= static_cast<double>(min) && v <= static_cast<double>(max)) || v != static_cast<double>(static_cast<int64_t>(v))) {
    Napi::RangeError::New(info.Env(), std::string(name) + " is out of range").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

struct Bytes {
  char* data;
  int length;
};

// (buffer: Uint8Array, offset, length) at `index`: checked against the buffer's size.
bool BytesArgs(const Napi::CallbackInfo& info, size_t index, Bytes* out) {
  if (!info[index].IsTypedArray()) return ThrowType(info, "buffer must be a Uint8Array");
  Napi::TypedArray a = info[index].As<Napi::TypedArray>();
  if (a.TypedArrayType() != napi_uint8_array) return ThrowType(info, "buffer must be a Uint8Array");
  int64_t offset = 0;
  int64_t length = 0;
  const int64_t size = static_cast<int64_t>(a.ByteLength());
  if (!IntArg(info, index + 1, "offset", 0, size, &offset) || !IntArg(info, index + 2, "length", 0, size - offset, &length)) {
    return false;
  }
  if (length > INT32_MAX) length = INT32_MAX;
  out->data = static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset() + offset;
  out->length = static_cast<int>(length);
  return true;
}

bool ObjectArg(const Napi::CallbackInfo& info, size_t index, Napi::Object* out) {
  if (!info[index].IsObject()) return ThrowType(info, "out must be an object");
  *out = info[index].As<Napi::Object>();
  return true;
}

bool Int32OutArg(const Napi::CallbackInfo& info, size_t index, size_t count, int32_t** out) {
  if (!info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[index].As<Napi::TypedArray>().ElementLength() < count) {
    return ThrowType(info, "out must be an Int32Array large enough");
  }
  Napi::Int32Array a = info[index].As<Napi::Int32Array>();
  *out = a.Data();
  return true;
}

union SocketAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;
  sockaddr_un un;
  sockaddr_storage storage;
};

// Non-blocking (FIONBIO) and not inherited by child processes: what every socket we create, accept or adopt gets.
DWORD PrepareSocket(SOCKET s) {
  u_long on = 1;
  if (ioctlsocket(s, FIONBIO, &on) != 0) return static_cast<DWORD>(WSAGetLastError());
  if (!SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0)) return GetLastError();
  return 0;
}

// PrepareSocket for a socket we just created or accepted: on failure it is closed, and the error returned.
DWORD PrepareOrClose(SOCKET s) {
  DWORD error = PrepareSocket(s);
  if (error != 0) closesocket(s);
  return error;
}

// The result of a call that returns 0 or SOCKET_ERROR: 0, or -error (no edge re-arm).
Napi::Value Status(const Napi::CallbackInfo& info, SOCKET s, int rc) {
  return rc != 0 ? SocketFail(info, s, 0) : Result(info.Env(), 0);
}

// The result of recv/send/sendto/recvfrom: the byte count, or -error (a would-block re-arms `direction`).
Napi::Value Count(const Napi::CallbackInfo& info, SOCKET s, int direction, int n) {
  return n == SOCKET_ERROR ? SocketFail(info, s, direction) : Result(info.Env(), n);
}

// (fd, buffer, offset, length) for a call that moves bytes: `io(s, bytes)` returns a count or SOCKET_ERROR.
template <typename Io>
Napi::Value TransferBytes(const Napi::CallbackInfo& info, int direction, Io io) {
  SOCKET s;
  Bytes b{};
  if (!SocketArg(info, 0, &s) || !BytesArgs(info, 1, &b)) return Napi::Value();
  return Count(info, s, direction, io(s, b));
}

// getsockopt of an int-sized option into `*value`, zeroed first; `*size` (when given) gets the size the stack wrote.
int GetIntOption(SOCKET s, int level, int name, int* value, int* size = nullptr) {
  *value = 0;
  int length = sizeof(*value);
  int rc = getsockopt(s, level, name, reinterpret_cast<char*>(value), &length);
  if (size != nullptr) *size = length;
  return rc;
}

// (family, address, port) at `index` into `address`: IP literals, or a filesystem path for AF_UNIX; no name
// resolution. Returns 1, 0 with a JS exception pending, or minus a WSA code for an address Winsock cannot take.
int AddressArgs(const Napi::CallbackInfo& info, size_t index, SocketAddress* address, int* length) {
  int64_t family = 0;
  if (!IntArg(info, index, "family", 0, INT32_MAX, &family)) return 0;
  if (!info[index + 1].IsString()) {
    ThrowType(info, "address must be a string");
    return 0;
  }
  const std::string host = info[index + 1].As<Napi::String>().Utf8Value();
  std::memset(address, 0, sizeof(*address));
  if (family == AF_UNIX) {
    if (host.empty() || host.find('\0') != std::string::npos) return -WSAEINVAL;
    if (host.size() >= sizeof(address->un.sun_path)) return -WSAENAMETOOLONG;
    address->un.sun_family = AF_UNIX;
    std::memcpy(address->un.sun_path, host.data(), host.size());
    *length = static_cast<int>(offsetof(sockaddr_un, sun_path) + host.size() + 1);
    return 1;
  }
  int64_t port = 0;
  if (!IntArg(info, index + 2, "port", 0, 65535, &port)) return 0;
  if (family == AF_INET && inet_pton(AF_INET, host.c_str(), &address->v4.sin_addr) == 1) {
    address->v4.sin_family = AF_INET;
    address->v4.sin_port = htons(static_cast<u_short>(port));
    *length = sizeof(address->v4);
    return 1;
  }
  if (family == AF_INET6 && inet_pton(AF_INET6, host.c_str(), &address->v6.sin6_addr) == 1) {
    address->v6.sin6_family = AF_INET6;
    address->v6.sin6_port = htons(static_cast<u_short>(port));
    *length = sizeof(address->v6);
    return 1;
  }
  if (family != AF_INET && family != AF_INET6) return -WSAEAFNOSUPPORT;
  return -WSAEINVAL;
}

// AddressArgs at `index`, then `call(address, length)`; undefined with a JS exception pending, or -code for an
// address Winsock cannot take, instead of the call.
template <typename Call>
Napi::Value WithAddress(const Napi::CallbackInfo& info, size_t index, Call call) {
  SocketAddress address;
  int length = 0;
  int ok = AddressArgs(info, index, &address, &length);
  if (ok == 0) return Napi::Value();
  if (ok < 0) return Result(info.Env(), ok);
  return call(address.any, length);
}

// out = {family, address, port}: what localAddress, peerAddress and recvFrom report.
void SetDescription(Napi::Env env, Napi::Object out, const char* family, const std::string& address, int port) {
  out.Set("family", Napi::String::New(env, family));
  out.Set("address", Napi::String::New(env, address));
  out.Set("port", Napi::Number::New(env, port));
}

void DescribeAddress(Napi::Env env, const SocketAddress& address, int length, Napi::Object out) {
  char text[INET6_ADDRSTRLEN] = {0};
  switch (address.any.sa_family) {
    case AF_INET:
      inet_ntop(AF_INET, &address.v4.sin_addr, text, sizeof(text));
      SetDescription(env, out, "IPv4", text, ntohs(address.v4.sin_port));
      return;
    case AF_INET6:
      inet_ntop(AF_INET6, &address.v6.sin6_addr, text, sizeof(text));
      SetDescription(env, out, "IPv6", text, ntohs(address.v6.sin6_port));
      return;
    case AF_UNIX: {
      const size_t base = offsetof(sockaddr_un, sun_path);
      size_t size = length > static_cast<int>(base) ? static_cast<size_t>(length) - base : 0;
      size = strnlen(address.un.sun_path, size < sizeof(address.un.sun_path) ? size : sizeof(address.un.sun_path));
      SetDescription(env, out, "unix", std::string(address.un.sun_path, size), 0);
      return;
    }
    default:
      SetDescription(env, out, "unknown", "", 0);
  }
}

// socket(family, type) -> socket | -error. Overlapped-capable, non-inheritable, non-blocking. A UDP socket
// ignores ICMP "port unreachable" (SIO_UDP_CONNRESET off), so one unreachable peer cannot fail later recvfroms
// with WSAECONNRESET — what POSIX does for an unconnected UDP socket.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  int64_t family = 0;
  int64_t type = 0;
  if (!IntArg(info, 0, "family", 0, INT32_MAX, &family) || !IntArg(info, 1, "type", 0, INT32_MAX, &type)) {
    return Napi::Value();
  }
  Napi::Env env = info.Env();
  SOCKET s = WSASocketW(static_cast<int>(family), static_cast<int>(type), 0, nullptr, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) return Fail(env, static_cast<DWORD>(WSAGetLastError()));
  DWORD error = PrepareOrClose(s);
  if (error != 0) return Fail(env, error);
  if (type == SOCK_DGRAM) {
    BOOL off = FALSE;
    DWORD bytes = 0;
    WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof(off), nullptr, 0, &bytes, nullptr, nullptr);
  }
  return Result(env, static_cast<double>(s));
}

// bind(fd, family, address, port) -> 0 | -error.
Napi::Value Bind(const Napi::CallbackInfo& info) {
  SOCKET s;
  if (!SocketArg(info, 0, &s)) return Napi::Value();
  return WithAddress(info, 1, [&](const sockaddr& to, int length) { return Status(info, s, bind(s, &to, length)); });
}

// listen(fd, backlog) -> 0 | -error.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  SOCKET s;
  int64_t backlog = 0;
  if (!SocketArg(info, 0, &s) || !IntArg(info, 1, "backlog", 0, INT32_MAX, &backlog)) return Napi::Value();
  return Status(info, s, listen(s, static_cast<int>(backlog)));
}

// accept(fd) -> socket | -error (-WSAEWOULDBLOCK when none is waiting). The new socket is made non-blocking and
// non-inheritable here: Winsock does not promise an accepted socket the listener's FIONBIO state.
Napi::Value Accept(const Napi::CallbackInfo& info) {
  SOCKET s;
  if (!SocketArg(info, 0, &s)) return Napi::Value();
  SOCKET client = accept(s, nullptr, nullptr);
  if (client == INVALID_SOCKET) return SocketFail(info, s, kBlockedRead);
  DWORD error = PrepareOrClose(client);
  if (error != 0) return Fail(info.Env(), error);
  return Result(info.Env(), static_cast<double>(client));
}

// connect(fd, family, address, port) -> 0 | -WSAEINPROGRESS (completes later: wait for writable, then SO_ERROR)
// | -error. Winsock says WSAEWOULDBLOCK for a connect in progress; the contract's name for it is EINPROGRESS.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  SOCKET s;
  if (!SocketArg(info, 0, &s)) return Napi::Value();
  return WithAddress(info, 1, [&](const sockaddr& to, int length) {
    if (connect(s, &to, length) == 0) return Result(info.Env(), 0);
    int error = WSAGetLastError();
    if (error == WSAEWOULDBLOCK) {
      NoteWouldBlock(RegistryOf(info), s, kBlockedWrite);
      return Fail(info.Env(), WSAEINPROGRESS);
    }
    return Fail(info.Env(), static_cast<DWORD>(error));
  });
}

// shutdown(fd, how) -> 0 | -error. SD_RECEIVE/SD_SEND/SD_BOTH are 0/1/2, as SHUT_RD/WR/RDWR.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  SOCKET s;
  int64_t how = 0;
  if (!SocketArg(info, 0, &s) || !IntArg(info, 1, "how", 0, 2, &how)) return Napi::Value();
  return Status(info, s, shutdown(s, static_cast<int>(how)));
}

// setOption(fd, level, name, value) -> 0 | -error, for integer options. SO_REUSEADDR is accepted and not set:
// on Windows it would let another socket take over a port in use; the POSIX meaning the contract asks for
// (binding a port with connections in TIME_WAIT) is Windows' default. libuv makes the same choice.
Napi::Value SetOption(const Napi::CallbackInfo& info) {
  SOCKET s;
  int64_t level = 0;
  int64_t name = 0;
  int64_t value = 0;
  if (!SocketArg(info, 0, &s) || !IntArg(info, 1, "level", 0, INT32_MAX, &level) ||
      !IntArg(info, 2, "name", INT32_MIN, INT32_MAX, &name) || !IntArg(info, 3, "value", INT32_MIN, INT32_MAX, &value)) {
    return Napi::Value();
  }
  if (level == SOL_SOCKET && name == SO_REUSEADDR) {
    // Still a socket check, so a bad descriptor fails as it would with the real call.
    int type = 0;
    return Status(info, s, GetIntOption(s, SOL_SOCKET, SO_TYPE, &type));
  }
  int v = static_cast<int>(value);
  return Status(info, s, setsockopt(s, static_cast<int>(level), static_cast<int>(name), reinterpret_cast<const char*>(&v), sizeof(v)));
}

// getOption(fd, level, name, out: Int32Array(1)) -> 0 | -error.
Napi::Value GetOption(const Napi::CallbackInfo& info) {
  SOCKET s;
  int64_t level = 0;
  int64_t name = 0;
  int32_t* out = nullptr;
  if (!SocketArg(info, 0, &s) || !IntArg(info, 1, "level", 0, INT32_MAX, &level) ||
      !IntArg(info, 2, "name", INT32_MIN, INT32_MAX, &name) || !Int32OutArg(info, 3, 1, &out)) {
    return Napi::Value();
  }
  // Some options (SO_KEEPALIVE, TCP_NODELAY) are a BOOL or even a single byte on some stacks: zero first.
  int value = 0;
  int size = 0;
  if (GetIntOption(s, static_cast<int>(level), static_cast<int>(name), &value, &size) != 0) return SocketFail(info, s, 0);
  if (size == 1) value = static_cast<unsigned char>(value & 0xff);
  out[0] = value;
  return Result(info.Env(), 0);
}

// socketError(fd) -> the pending SO_ERROR (0 or a positive WSA code, cleared by reading it) | -error.
Napi::Value SocketError(const Napi::CallbackInfo& info) {
  SOCKET s;
  if (!SocketArg(info, 0, &s)) return Napi::Value();
  int value = 0;
  if (GetIntOption(s, SOL_SOCKET, SO_ERROR, &value) != 0) return SocketFail(info, s, 0);
  return Result(info.Env(), value);
}

Napi::Value NameOf(const Napi::CallbackInfo& info, bool peer) {
  SOCKET s;
  Napi::Object out;
  if (!SocketArg(info, 0, &s) || !ObjectArg(info, 1, &out)) return Napi::Value();
  SocketAddress address;
  std::memset(&address, 0, sizeof(address));
  int length = sizeof(address);
  int rc = peer ? getpeername(s, &address.any, &length) : getsockname(s, &address.any, &length);
  if (rc != 0) return SocketFail(info, s, 0);
  DescribeAddress(info.Env(), address, length, out);
  return Result(info.Env(), 0);
}

Napi::Value LocalAddress(const Napi::CallbackInfo& info) { return NameOf(info, false); }
Napi::Value PeerAddress(const Napi::CallbackInfo& info) { return NameOf(info, true); }

// read(fd, buffer, offset, length) -> bytes (0 at end of stream) | -error. recv(): a socket is no file here.
Napi::Value Read(const Napi::CallbackInfo& info) {
  return TransferBytes(info, kBlockedRead, [](SOCKET s, const Bytes& b) { return recv(s, b.data, b.length, 0); });
}

// send(fd, buffer, offset, length) -> bytes | -error. Windows has no SIGPIPE.
Napi::Value Send(const Napi::CallbackInfo& info) {
  return TransferBytes(info, kBlockedWrite, [](SOCKET s, const Bytes& b) { return send(s, b.data, b.length, 0); });
}

// writev(fd, buffers: Uint8Array[], first, offset) -> bytes | -error: buffers[first] from byte `offset`, then the
// following buffers (at most IOV_MAX), in one non-overlapped WSASend with several WSABUFs.
Napi::Value Writev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SOCKET s;
  if (!SocketArg(info, 0, &s)) return Napi::Value();
  if (!info[1].IsArray()) {
    ThrowType(info, "buffers must be an array");
    return Napi::Value();
  }
  Napi::Array buffers = info[1].As<Napi::Array>();
  const uint32_t count = buffers.Length();
  int64_t first = 0;
  int64_t offset = 0;
  if (!IntArg(info, 2, "first", 0, count, &first) || !IntArg(info, 3, "offset", 0, INT64_MAX >> 12, &offset)) {
    return Napi::Value();
  }
  WSABUF bufs[kMaxIov];
  DWORD used = 0;
  uint64_t total = 0;
  for (uint32_t i = static_cast<uint32_t>(first); i < count && used < kMaxIov; ++i) {
    napi_value element = nullptr;
    napi_typedarray_type type = napi_int8_array;
    size_t size = 0;
    void* data = nullptr;
    if (napi_get_element(env, buffers, i, &element) != napi_ok ||
        napi_get_typedarray_info(env, element, &type, &size, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      ThrowType(info, "buffers must hold Uint8Arrays");
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
    size_t len = size - skip;
    // A WSABUF holds a ULONG length, and one call's total must fit the DWORD byte count: stop before overflowing.
    if (len > 0x7fffffffu - total) {
      if (used > 0) break;
      len = 0x7fffffffu;
    }
    bufs[used].buf = static_cast<char*>(data) + skip;
    bufs[used].len = static_cast<ULONG>(len);
    total += len;
    ++used;
  }
  if (used == 0) return Result(env, 0);
  DWORD sent = 0;
  if (WSASend(s, bufs, used, &sent, 0, nullptr, nullptr) != 0) return SocketFail(info, s, kBlockedWrite);
  return Result(env, sent);
}

// sendTo(fd, buffer, offset, length, family, address, port) -> bytes | -error (one datagram).
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  SOCKET s;
  Bytes b{};
  if (!SocketArg(info, 0, &s) || !BytesArgs(info, 1, &b)) return Napi::Value();
  return WithAddress(info, 4, [&](const sockaddr& to, int length) {
    return Count(info, s, kBlockedWrite, sendto(s, b.data, b.length, 0, &to, length));
  });
}

// recvFrom(fd, buffer, offset, length, out) -> bytes | -error; out gets the sender. A datagram longer than the
// buffer fills it and the rest is dropped: Winsock says WSAEMSGSIZE for that, POSIX returns the truncated length,
// and so do we.
Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  SOCKET s;
  Bytes b{};
  Napi::Object out;
  if (!SocketArg(info, 0, &s) || !BytesArgs(info, 1, &b) || !ObjectArg(info, 4, &out)) return Napi::Value();
  SocketAddress address;
  std::memset(&address, 0, sizeof(address));
  int length = sizeof(address);
  int n = recvfrom(s, b.data, b.length, 0, &address.any, &length);
  if (n == SOCKET_ERROR) {
    if (WSAGetLastError() != WSAEMSGSIZE) return SocketFail(info, s, kBlockedRead);
    n = b.length;
  }
  DescribeAddress(info.Env(), address, length, out);
  return Result(info.Env(), n);
}

// describe(fd, out: Int32Array(3)) -> 0 | -error; out = [family, type, listening]. For adopt(fd). The family
// comes from the protocol info, so an unbound socket (whose getsockname fails on Windows) is described too.
Napi::Value Describe(const Napi::CallbackInfo& info) {
  SOCKET s;
  int32_t* out = nullptr;
  if (!SocketArg(info, 0, &s) || !Int32OutArg(info, 1, 3, &out)) return Napi::Value();
  int type = 0;
  if (GetIntOption(s, SOL_SOCKET, SO_TYPE, &type) != 0) return SocketFail(info, s, 0);
  int family = AF_UNSPEC;
  WSAPROTOCOL_INFOW protocol;
  int size = sizeof(protocol);
  if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&protocol), &size) == 0) {
    family = protocol.iAddressFamily;
  } else {
    SocketAddress address;
    int length = sizeof(address);
    if (getsockname(s, &address.any, &length) != 0) return SocketFail(info, s, 0);
    family = address.any.sa_family;
  }
  BOOL listening = FALSE;
  size = sizeof(listening);
  if (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&listening), &size) != 0) listening = FALSE;
  out[0] = family;
  out[1] = type;
  out[2] = listening ? 1 : 0;
  return Result(info.Env(), 0);
}

// prepare(fd) -> 0 | -error: an adopted socket becomes non-blocking and non-inheritable.
Napi::Value Prepare(const Napi::CallbackInfo& info) {
  SOCKET s;
  if (!SocketArg(info, 0, &s)) return Napi::Value();
  return Result(info.Env(), -static_cast<double>(PrepareSocket(s)));
}

// close(fd) -> 0 | -error (closesocket).
Napi::Value Close(const Napi::CallbackInfo& info) {
  SOCKET s;
  if (!SocketArg(info, 0, &s)) return Napi::Value();
  return Status(info, s, closesocket(s));
}

// unlink(path) -> 0 | -error (a Win32 code): removes a stale unix socket file (DeleteFileW).
Napi::Value Unlink(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) {
    ThrowType(info, "path must be a string");
    return Napi::Value();
  }
  std::u16string path = info[0].As<Napi::String>().Utf16Value();
  if (!DeleteFileW(reinterpret_cast<const wchar_t*>(path.c_str()))) return Fail(info.Env(), GetLastError());
  return Result(info.Env(), 0);
}

void SetConstant(Napi::Object object, const char* name, int value) {
  object.Set(name, Napi::Number::New(object.Env(), value));
}

// The Winsock values. EAGAIN and EINPROGRESS are replaced by Node's numbers in src/net.ts; SO_REUSEPORT does not
// exist on Windows (-1: mod-net refuses reusePort with a clear error).
Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  SetConstant(c, "AF_INET", AF_INET);
  SetConstant(c, "AF_INET6", AF_INET6);
  SetConstant(c, "AF_UNIX", AF_UNIX);
  SetConstant(c, "SOCK_STREAM", SOCK_STREAM);
  SetConstant(c, "SOCK_DGRAM", SOCK_DGRAM);
  SetConstant(c, "SHUT_RD", SD_RECEIVE);
  SetConstant(c, "SHUT_WR", SD_SEND);
  SetConstant(c, "SHUT_RDWR", SD_BOTH);
  SetConstant(c, "SOL_SOCKET", SOL_SOCKET);
  SetConstant(c, "IPPROTO_TCP", IPPROTO_TCP);
  SetConstant(c, "IPPROTO_IPV6", IPPROTO_IPV6);
  SetConstant(c, "SO_REUSEADDR", SO_REUSEADDR);
  SetConstant(c, "SO_REUSEPORT", -1);
  SetConstant(c, "SO_KEEPALIVE", SO_KEEPALIVE);
  SetConstant(c, "SO_BROADCAST", SO_BROADCAST);
  SetConstant(c, "SO_RCVBUF", SO_RCVBUF);
  SetConstant(c, "SO_SNDBUF", SO_SNDBUF);
  SetConstant(c, "TCP_NODELAY", TCP_NODELAY);
  SetConstant(c, "TCP_KEEPIDLE", TCP_KEEPIDLE);
  SetConstant(c, "TCP_KEEPINTVL", TCP_KEEPINTVL);
  SetConstant(c, "TCP_KEEPCNT", TCP_KEEPCNT);
  SetConstant(c, "IPV6_V6ONLY", IPV6_V6ONLY);
  SetConstant(c, "WSAEWOULDBLOCK", WSAEWOULDBLOCK);
  SetConstant(c, "WSAEINPROGRESS", WSAEINPROGRESS);
  SetConstant(c, "IOV_MAX", static_cast<int>(kMaxIov));
  return c;
}

}  // namespace

Napi::Object DefineNet(Napi::Env env, Registry* registry) {
  Napi::Object net = Napi::Object::New(env);
  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    net.Set(name, Napi::Function::New(env, cb, name, registry));
  };
  fn("socket", Socket);
  fn("bind", Bind);
  fn("listen", Listen);
  fn("accept", Accept);
  fn("connect", Connect);
  fn("shutdown", Shutdown);
  fn("setOption", SetOption);
  fn("getOption", GetOption);
  fn("socketError", SocketError);
  fn("localAddress", LocalAddress);
  fn("peerAddress", PeerAddress);
  fn("read", Read);
  fn("send", Send);
  fn("writev", Writev);
  fn("sendTo", SendTo);
  fn("recvFrom", RecvFrom);
  fn("describe", Describe);
  fn("prepare", Prepare);
  fn("close", Close);
  fn("unlink", Unlink);
  net.Set("constants", Constants(env));
  return net;
}

}  // namespace fdloop_iocp
