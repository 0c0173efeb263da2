// Socket system calls shared by every POSIX backend (epoll, kqueue): socket, bind, listen, accept,
// connect, shutdown, socket options, addresses, writev and datagrams. Portable POSIX only; the few Linux
// conveniences (accept4, SOCK_NONBLOCK, MSG_NOSIGNAL) are used where the headers define them and replaced by
// fcntl / SO_NOSIGPIPE elsewhere. Like sys.h, every function returns a non-negative result or -errno and the
// TypeScript layer builds the errors; nothing here throws except for malformed arguments (TypeError/RangeError).
#pragma once

#include <napi.h>

namespace fdloop::posix {

// The `sock` object of the addon: the functions plus a `constants` object (address families, socket types,
// option levels and names as this platform's headers define them).
Napi::Object CreateSock(Napi::Env env);

}  // namespace fdloop::posix
