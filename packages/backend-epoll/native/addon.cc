// Entry point of fdloop_epoll.node. Exports `Poller` (the epoll poller class) and `sys` (POSIX helpers).
// Nothing here is process-global: the module is initialized once per environment (main thread and each worker),
// and every piece of state hangs off a Poller object or is local to a call.
#include <napi.h>

#include "epoll/epoll_poller.h"
#include "fdloop/posix/sock.h"
#include "fdloop/posix/sys.h"
#include "sources/linux_sources.h"
#include "uring/uring.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Poller", fdloop::epoll::EpollPoller::Define(env));
  exports.Set("sys", fdloop::posix::CreateSys(env));
  exports.Set("sources", fdloop::sources::CreateSources(env));
  exports.Set("sock", fdloop::posix::CreateSock(env));
  exports.Set("uring", fdloop::uring::CreateUring(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(fdloop_epoll, Init)
