#include "errors.h"

#include "win.h"

namespace fdloop_iocp {

// ERROR_HANDLES_CLOSED (676), which mingw-w64's winerror.h lacks: what Wine completes an overlapped serial read
// with when its handle is closed (STATUS_HANDLES_CLOSED); Windows says ERROR_OPERATION_ABORTED. Both: ECANCELED.
constexpr DWORD kErrorHandlesClosed = 676;

// X(win32 or WSA code, Node's E* name). Chosen to agree with libuv's uv_translate_sys_error, so a code produced
// here reads the same as one Node itself would report for the same failure.
#define FDLOOP_WIN_ERROR_MAP(X)                      \
  X(ERROR_INVALID_FUNCTION, "EISDIR")                \
  X(ERROR_FILE_NOT_FOUND, "ENOENT")                  \
  X(ERROR_PATH_NOT_FOUND, "ENOENT")                  \
  X(ERROR_TOO_MANY_OPEN_FILES, "EMFILE")             \
  X(ERROR_ACCESS_DENIED, "EPERM")                    \
  X(ERROR_INVALID_HANDLE, "EBADF")                   \
  X(ERROR_NOT_ENOUGH_MEMORY, "ENOMEM")               \
  X(ERROR_OUTOFMEMORY, "ENOMEM")                     \
  X(ERROR_WRITE_PROTECT, "EROFS")                    \
  X(ERROR_SHARING_VIOLATION, "EBUSY")                \
  X(ERROR_LOCK_VIOLATION, "EBUSY")                   \
  X(ERROR_HANDLE_EOF, "EOF")                         \
  X(ERROR_NOT_SUPPORTED, "ENOTSUP")                  \
  X(ERROR_NETNAME_DELETED, "ECONNRESET")             \
  X(ERROR_FILE_EXISTS, "EEXIST")                     \
  X(ERROR_INVALID_PARAMETER, "EINVAL")               \
  X(ERROR_BROKEN_PIPE, "EPIPE")                      \
  X(ERROR_DISK_FULL, "ENOSPC")                       \
  X(ERROR_SEM_TIMEOUT, "ETIMEDOUT")                  \
  X(ERROR_INSUFFICIENT_BUFFER, "EINVAL")             \
  X(ERROR_INVALID_NAME, "ENOENT")                    \
  X(ERROR_DIR_NOT_EMPTY, "ENOTEMPTY")                \
  X(ERROR_ALREADY_EXISTS, "EEXIST")                  \
  X(ERROR_BAD_PIPE, "EPIPE")                         \
  X(ERROR_PIPE_BUSY, "EBUSY")                        \
  X(ERROR_NO_DATA, "EPIPE")                          \
  X(ERROR_PIPE_NOT_CONNECTED, "EPIPE")               \
  X(WAIT_TIMEOUT, "ETIMEDOUT")                       \
  X(ERROR_DIRECTORY, "ENOTDIR")                      \
  X(ERROR_OPERATION_ABORTED, "ECANCELED")            \
  X(kErrorHandlesClosed, "ECANCELED")                \
  X(ERROR_NOACCESS, "EFAULT")                        \
  X(ERROR_INVALID_FLAGS, "EBADF")                    \
  X(ERROR_NOT_FOUND, "ENOENT")                       \
  X(ERROR_CONNECTION_REFUSED, "ECONNREFUSED")        \
  X(ERROR_CONNECTION_ABORTED, "ECONNABORTED")        \
  X(ERROR_PRIVILEGE_NOT_HELD, "EPERM")               \
  X(ERROR_TIMEOUT, "ETIMEDOUT")                      \
  X(WSAEINTR, "ECANCELED")                           \
  X(WSAEBADF, "EBADF")                               \
  X(WSAEACCES, "EACCES")                             \
  X(WSAEFAULT, "EFAULT")                             \
  X(WSAEINVAL, "EINVAL")                             \
  X(WSAEMFILE, "EMFILE")                             \
  X(WSAEWOULDBLOCK, "EAGAIN")                        \
  X(WSAEALREADY, "EALREADY")                         \
  X(WSAENAMETOOLONG, "ENAMETOOLONG")                 \
  X(WSAENOPROTOOPT, "ENOPROTOOPT")                   \
  X(WSAEPROTOTYPE, "EPROTOTYPE")                     \
  X(WSAEDESTADDRREQ, "EDESTADDRREQ")                 \
  X(WSAENOTSOCK, "ENOTSOCK")                         \
  X(WSAEMSGSIZE, "EMSGSIZE")                         \
  X(WSAEPROTONOSUPPORT, "EPROTONOSUPPORT")           \
  X(WSAESOCKTNOSUPPORT, "ESOCKTNOSUPPORT")           \
  X(WSAEOPNOTSUPP, "ENOTSUP")                        \
  X(WSAEAFNOSUPPORT, "EAFNOSUPPORT")                 \
  X(WSAEADDRINUSE, "EADDRINUSE")                     \
  X(WSAEADDRNOTAVAIL, "EADDRNOTAVAIL")               \
  X(WSAENETDOWN, "ENETDOWN")                         \
  X(WSAENETUNREACH, "ENETUNREACH")                   \
  X(WSAECONNABORTED, "ECONNABORTED")                 \
  X(WSAECONNRESET, "ECONNRESET")                     \
  X(WSAENOBUFS, "ENOBUFS")                           \
  X(WSAEISCONN, "EISCONN")                           \
  X(WSAENOTCONN, "ENOTCONN")                         \
  X(WSAESHUTDOWN, "EPIPE")                           \
  X(WSAETIMEDOUT, "ETIMEDOUT")                       \
  X(WSAECONNREFUSED, "ECONNREFUSED")                 \
  X(WSAEHOSTUNREACH, "EHOSTUNREACH")                 \
  X(WSAEPROVIDERFAILEDINIT, "EINVAL")

const char* ErrorName(uint32_t win32_error) {
  switch (win32_error) {
#define FDLOOP_CASE(code, name) \
  case code:                    \
    return name;
    FDLOOP_WIN_ERROR_MAP(FDLOOP_CASE)
#undef FDLOOP_CASE
    default:
      return "UNKNOWN";
  }
}

uint32_t NtStatusToWin32(int32_t status) {
  return static_cast<uint32_t>(RtlNtStatusToDosError(static_cast<NTSTATUS>(status)));
}

}  // namespace fdloop_iocp
