#include "sys.h"

#include <cstring>
#include <initializer_list>
#include <string>

#include "errors.h"
#include "win.h"

namespace fdloop_iocp {
namespace {

Napi::Number Fail(Napi::Env env, DWORD error) { return Napi::Number::New(env, -static_cast<double>(error)); }

Napi::Number WsaFail(Napi::Env env) { return Fail(env, static_cast<DWORD>(WSAGetLastError())); }

SOCKET ArgSocket(const Napi::Value& v) { return static_cast<SOCKET>(v.As<Napi::Number>().Int64Value()); }

HANDLE ArgHandle(const Napi::Value& v) {
  return reinterpret_cast<HANDLE>(static_cast<intptr_t>(v.As<Napi::Number>().Int64Value()));
}

double SocketValue(SOCKET s) { return static_cast<double>(s); }

DWORD ArgU32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }

// The result of a Win32 call that returns a BOOL: 0, or -GetLastError() (call it right after the failed call).
Napi::Number Win32Status(Napi::Env env, BOOL ok) { return ok ? Napi::Number::New(env, 0) : Fail(env, GetLastError()); }

// A new handle as the result: its value, or -GetLastError() for INVALID_HANDLE_VALUE.
Napi::Number HandleResult(Napi::Env env, HANDLE h) {
  if (h == INVALID_HANDLE_VALUE) return Fail(env, GetLastError());
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<intptr_t>(h)));
}

// A getter's result: `values` in order into the Float64Array `out` at info[1], then 0.
Napi::Number Filled(const Napi::CallbackInfo& info, std::initializer_list<double> values) {
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  size_t i = 0;
  for (double v : values) out[i++] = v;
  return Napi::Number::New(info.Env(), 0);
}

// GetCommState into a zeroed DCB (DCBlength set, as the call requires).
BOOL ReadCommState(HANDLE h, DCB* dcb) {
  std::memset(dcb, 0, sizeof(*dcb));
  dcb->DCBlength = sizeof(*dcb);
  return GetCommState(h, dcb);
}

int SetNonBlocking(SOCKET s) {
  u_long on = 1;
  return ioctlsocket(s, FIONBIO, &on);
}

// Sockets from socket() are overlapped (WSA_FLAG_OVERLAPPED) and not inherited by child processes.
SOCKET NewTcpSocket() {
  return WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
}

bool ParseAddress(const std::string& host, int port, sockaddr_in* out) {
  std::memset(out, 0, sizeof(*out));
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<u_short>(port));
  return inet_pton(AF_INET, host.c_str(), &out->sin_addr) == 1;
}

// tcpListen(host, port, backlog) -> listening socket (non-blocking) or -error
Napi::Value TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_in addr;
  if (!ParseAddress(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), &addr)) {
    return Fail(env, WSAEINVAL);
  }
  SOCKET s = NewTcpSocket();
  if (s == INVALID_SOCKET) return WsaFail(env);
  if (bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(s, info[2].As<Napi::Number>().Int32Value()) != 0 || SetNonBlocking(s) != 0) {
    int error = WSAGetLastError();
    closesocket(s);
    return Fail(env, static_cast<DWORD>(error));
  }
  return Napi::Number::New(env, SocketValue(s));
}

// A failed socket call: -error, after telling the pollers of a would-block (the edge re-arm signal).
Napi::Number SocketFail(const Napi::CallbackInfo& info, SOCKET sock, int direction) {
  int error = WSAGetLastError();
  if (error == WSAEWOULDBLOCK) NoteWouldBlock(static_cast<Registry*>(info.Data()), sock, direction);
  return Fail(info.Env(), static_cast<DWORD>(error));
}

// tcpAccept(listener) -> socket (non-blocking) or -error (-WSAEWOULDBLOCK when none is waiting)
Napi::Value TcpAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SOCKET s = accept(ArgSocket(info[0]), nullptr, nullptr);
  if (s == INVALID_SOCKET) return SocketFail(info, ArgSocket(info[0]), kBlockedRead);
  if (SetNonBlocking(s) != 0) {
    int error = WSAGetLastError();
    closesocket(s);
    return Fail(env, static_cast<DWORD>(error));
  }
  return Napi::Number::New(env, SocketValue(s));
}

// tcpConnect(host, port) -> socket (non-blocking; the connection may still be in progress) or -error
Napi::Value TcpConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_in addr;
  if (!ParseAddress(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), &addr)) {
    return Fail(env, WSAEINVAL);
  }
  SOCKET s = NewTcpSocket();
  if (s == INVALID_SOCKET) return WsaFail(env);
  if (SetNonBlocking(s) != 0) {
    int error = WSAGetLastError();
    closesocket(s);
    return Fail(env, static_cast<DWORD>(error));
  }
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && WSAGetLastError() != WSAEWOULDBLOCK) {
    int error = WSAGetLastError();
    closesocket(s);
    return Fail(env, static_cast<DWORD>(error));
  }
  return Napi::Number::New(env, SocketValue(s));
}

// socketPair(out: Float64Array) -> 0 or -error: a connected, non-blocking TCP pair on 127.0.0.1 (Windows has no
// socketpair(2); AF_UNIX sockets exist but Wine does not implement them).
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float64Array out = info[0].As<Napi::Float64Array>();
  SOCKET listener = NewTcpSocket();
  if (listener == INVALID_SOCKET) return WsaFail(env);
  SOCKET client = INVALID_SOCKET;
  SOCKET server = INVALID_SOCKET;
  sockaddr_in addr;
  ParseAddress("127.0.0.1", 0, &addr);
  int len = sizeof(addr);
  DWORD error = 0;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    error = static_cast<DWORD>(WSAGetLastError());
  }
  if (error == 0) {
    client = NewTcpSocket();
    // A blocking connect to our own listening socket on loopback completes at once (the backlog accepts it).
    if (client == INVALID_SOCKET || connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      error = static_cast<DWORD>(WSAGetLastError());
    }
  }
  if (error == 0) {
    server = accept(listener, nullptr, nullptr);
    if (server == INVALID_SOCKET) error = static_cast<DWORD>(WSAGetLastError());
  }
  if (error == 0 && (SetNonBlocking(client) != 0 || SetNonBlocking(server) != 0)) {
    error = static_cast<DWORD>(WSAGetLastError());
  }
  closesocket(listener);
  if (error != 0) {
    if (client != INVALID_SOCKET) closesocket(client);
    if (server != INVALID_SOCKET) closesocket(server);
    return Fail(env, error);
  }
  out[0] = SocketValue(server);
  out[1] = SocketValue(client);
  return Napi::Number::New(env, 0);
}

// send/recv(socket, buffer, offset, length, flags) -> bytes or -error
Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray a = info[1].As<Napi::TypedArray>();
  char* data = static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset() + info[2].As<Napi::Number>().Uint32Value();
  int n = send(ArgSocket(info[0]), data, info[3].As<Napi::Number>().Int32Value(), info[4].As<Napi::Number>().Int32Value());
  if (n == SOCKET_ERROR) return SocketFail(info, ArgSocket(info[0]), kBlockedWrite);
  return Napi::Number::New(env, n);
}

Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray a = info[1].As<Napi::TypedArray>();
  char* data = static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset() + info[2].As<Napi::Number>().Uint32Value();
  int n = recv(ArgSocket(info[0]), data, info[3].As<Napi::Number>().Int32Value(), info[4].As<Napi::Number>().Int32Value());
  if (n == SOCKET_ERROR) return SocketFail(info, ArgSocket(info[0]), kBlockedRead);
  return Napi::Number::New(env, n);
}

Napi::Value CloseSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closesocket(ArgSocket(info[0])) != 0) return WsaFail(env);
  return Napi::Number::New(env, 0);
}

// socketError(socket) -> the pending SO_ERROR (0 or a positive WSA code), or -error
Napi::Value SocketError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int value = 0;
  int len = sizeof(value);
  if (getsockopt(ArgSocket(info[0]), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&value), &len) != 0) {
    return WsaFail(env);
  }
  return Napi::Number::New(env, value);
}

Napi::Value LocalPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_in addr;
  int len = sizeof(addr);
  if (getsockname(ArgSocket(info[0]), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return WsaFail(env);
  return Napi::Number::New(env, ntohs(addr.sin_port));
}

// pipe(out: Float64Array) -> 0 or -error: an overlapped named-pipe pair, out[0] the read end (server, inbound),
// out[1] the write end (client). The name is unique per process, thread and moment; no counter is shared.
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float64Array out = info[0].As<Napi::Float64Array>();
  LARGE_INTEGER now;
  QueryPerformanceCounter(&now);
  std::wstring name = L"\\\\.\\pipe\\fdloop-" + std::to_wstring(GetCurrentProcessId()) + L"-" +
                      std::to_wstring(GetCurrentThreadId()) + L"-" + std::to_wstring(now.QuadPart);
  HANDLE server = CreateNamedPipeW(name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                   PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1,
                                   65536, 65536, 0, nullptr);
  if (server == INVALID_HANDLE_VALUE) return Fail(env, GetLastError());
  HANDLE client = CreateFileW(name.c_str(), GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, nullptr, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED, nullptr);
  if (client == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    CloseHandle(server);
    return Fail(env, error);
  }
  out[0] = static_cast<double>(reinterpret_cast<intptr_t>(server));
  out[1] = static_cast<double>(reinterpret_cast<intptr_t>(client));
  return Napi::Number::New(env, 0);
}

// openFile(path, write, create) -> an overlapped file handle or -error
Napi::Value OpenFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::u16string path = info[0].As<Napi::String>().Utf16Value();
  bool write = info[1].As<Napi::Boolean>().Value();
  bool create = info[2].As<Napi::Boolean>().Value();
  HANDLE h = CreateFileW(reinterpret_cast<const wchar_t*>(path.c_str()), GENERIC_READ | (write ? GENERIC_WRITE : 0),
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         create ? OPEN_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, nullptr);
  return HandleResult(env, h);
}

// openSerial(path) -> an overlapped handle to a communications device, or -error. Exclusive (share mode 0), as
// Windows requires for COM ports; no configuration here (setCommState/setCommTimeouts do that).
Napi::Value OpenSerial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::u16string path = info[0].As<Napi::String>().Utf16Value();
  HANDLE h = CreateFileW(reinterpret_cast<const wchar_t*>(path.c_str()), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                         OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  return HandleResult(env, h);
}

// setCommState(handle, baudRate) -> 0 or -error: raw 8N1 at `baudRate`, binary, no parity check, no flow control
// of any kind (no CTS/DSR output flow, no XON/XOFF), DTR and RTS left on, errors do not abort I/O.
Napi::Value SetCommStateJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HANDLE h = ArgHandle(info[0]);
  DCB dcb;
  if (!ReadCommState(h, &dcb)) return Fail(env, GetLastError());
  dcb.BaudRate = ArgU32(info[1]);
  dcb.ByteSize = 8;
  dcb.Parity = NOPARITY;
  dcb.StopBits = ONESTOPBIT;
  dcb.fBinary = TRUE;
  dcb.fParity = FALSE;
  dcb.fOutxCtsFlow = FALSE;
  dcb.fOutxDsrFlow = FALSE;
  dcb.fDtrControl = DTR_CONTROL_ENABLE;
  dcb.fDsrSensitivity = FALSE;
  dcb.fOutX = FALSE;
  dcb.fInX = FALSE;
  dcb.fErrorChar = FALSE;
  dcb.fNull = FALSE;
  dcb.fRtsControl = RTS_CONTROL_ENABLE;
  dcb.fAbortOnError = FALSE;
  return Win32Status(env, SetCommState(h, &dcb));
}

// getCommState(handle, out: Float64Array(4)) -> 0 or -error: out = [BaudRate, ByteSize, Parity, StopBits].
Napi::Value GetCommStateJs(const Napi::CallbackInfo& info) {
  DCB dcb;
  if (!ReadCommState(ArgHandle(info[0]), &dcb)) return Fail(info.Env(), GetLastError());
  return Filled(info, {static_cast<double>(dcb.BaudRate), static_cast<double>(dcb.ByteSize),
                      static_cast<double>(dcb.Parity), static_cast<double>(dcb.StopBits)});
}

// setCommTimeouts(handle, readInterval, readMultiplier, readConstant, writeMultiplier, writeConstant) -> 0 or -error
Napi::Value SetCommTimeoutsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  COMMTIMEOUTS t;
  t.ReadIntervalTimeout = ArgU32(info[1]);
  t.ReadTotalTimeoutMultiplier = ArgU32(info[2]);
  t.ReadTotalTimeoutConstant = ArgU32(info[3]);
  t.WriteTotalTimeoutMultiplier = ArgU32(info[4]);
  t.WriteTotalTimeoutConstant = ArgU32(info[5]);
  return Win32Status(env, SetCommTimeouts(ArgHandle(info[0]), &t));
}

// getCommTimeouts(handle, out: Float64Array(5)) -> 0 or -error, in COMMTIMEOUTS' field order.
Napi::Value GetCommTimeoutsJs(const Napi::CallbackInfo& info) {
  COMMTIMEOUTS t;
  if (!GetCommTimeouts(ArgHandle(info[0]), &t)) return Fail(info.Env(), GetLastError());
  return Filled(info, {static_cast<double>(t.ReadIntervalTimeout), static_cast<double>(t.ReadTotalTimeoutMultiplier),
                      static_cast<double>(t.ReadTotalTimeoutConstant), static_cast<double>(t.WriteTotalTimeoutMultiplier),
                      static_cast<double>(t.WriteTotalTimeoutConstant)});
}

// getCommModemStatus(handle) -> the MS_*_ON bits (CTS 0x10, DSR 0x20, RING 0x40, RLSD 0x80), or -error.
Napi::Value GetCommModemStatusJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DWORD bits = 0;
  if (!GetCommModemStatus(ArgHandle(info[0]), &bits)) return Fail(env, GetLastError());
  return Napi::Number::New(env, bits);
}

Napi::Value CloseHandleJs(const Napi::CallbackInfo& info) {
  return Win32Status(info.Env(), CloseHandle(ArgHandle(info[0])));
}

// postToPort(port, token, value) -> 0 or -error: trigger a notifier from any thread (the port value comes from a
// notifier's remote description). A closed port fails with ERROR_INVALID_HANDLE.
Napi::Value PostToPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HANDLE port = ArgHandle(info[0]);
  uintptr_t token = static_cast<uintptr_t>(info[1].As<Napi::Number>().DoubleValue());
  DWORD value = ArgU32(info[2]);
  return Win32Status(env, PostQueuedCompletionStatus(port, value, kKeySource, reinterpret_cast<LPOVERLAPPED>(token)));
}

Napi::Value ErrorNameJs(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrorName(info[0].As<Napi::Number>().Uint32Value()));
}

Napi::Value NtStatusToWin32Js(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), NtStatusToWin32(static_cast<int32_t>(info[0].As<Napi::Number>().Int64Value())));
}

}  // namespace

Napi::Object DefineSys(Napi::Env env, Registry* registry) {
  Napi::Object sys = Napi::Object::New(env);
  sys.Set("tcpListen", Napi::Function::New(env, TcpListen));
  sys.Set("tcpAccept", Napi::Function::New(env, TcpAccept, "tcpAccept", registry));
  sys.Set("tcpConnect", Napi::Function::New(env, TcpConnect));
  sys.Set("socketPair", Napi::Function::New(env, SocketPair));
  sys.Set("send", Napi::Function::New(env, Send, "send", registry));
  sys.Set("recv", Napi::Function::New(env, Recv, "recv", registry));
  sys.Set("closeSocket", Napi::Function::New(env, CloseSocket));
  sys.Set("socketError", Napi::Function::New(env, SocketError));
  sys.Set("localPort", Napi::Function::New(env, LocalPort));
  sys.Set("pipe", Napi::Function::New(env, Pipe));
  sys.Set("openFile", Napi::Function::New(env, OpenFile));
  sys.Set("closeHandle", Napi::Function::New(env, CloseHandleJs));
  sys.Set("openSerial", Napi::Function::New(env, OpenSerial));
  sys.Set("setCommState", Napi::Function::New(env, SetCommStateJs));
  sys.Set("getCommState", Napi::Function::New(env, GetCommStateJs));
  sys.Set("setCommTimeouts", Napi::Function::New(env, SetCommTimeoutsJs));
  sys.Set("getCommTimeouts", Napi::Function::New(env, GetCommTimeoutsJs));
  sys.Set("getCommModemStatus", Napi::Function::New(env, GetCommModemStatusJs));
  sys.Set("errorName", Napi::Function::New(env, ErrorNameJs));
  sys.Set("postToPort", Napi::Function::New(env, PostToPort));
  sys.Set("ntStatusToWin32", Napi::Function::New(env, NtStatusToWin32Js));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("MSG_OOB", Napi::Number::New(env, MSG_OOB));
  constants.Set("WSAEWOULDBLOCK", Napi::Number::New(env, WSAEWOULDBLOCK));
  constants.Set("WSAENOTCONN", Napi::Number::New(env, WSAENOTCONN));
  sys.Set("constants", constants);
  return sys;
}

}  // namespace fdloop_iocp
