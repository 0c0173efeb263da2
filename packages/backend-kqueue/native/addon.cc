// Entry point of fdloop_kqueue.node. Exports `Poller` (the kqueue poller class), and the POSIX helpers shared with
// @fdloop/backend-epoll: `sys` (posix/sys.cc) and `sock` (posix/sock.cc). Nothing here is process-global: the
// module is initialized once per environment (main thread and each worker), and every piece of state hangs off a
// Poller object or is local to a call.
#include <napi.h>

#include "kqueue/kqueue_poller.h"
#include "fdloop/posix/sock.h"
#include "fdloop/posix/sys.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using fdloop::kqueue::KqueuePoller;
  exports.Set("Poller", KqueuePoller::Define(env));
  exports.Set("userTrigger", Napi::Function::New(env, KqueuePoller::UserTrigger, "userTrigger"));
  exports.Set("constants", KqueuePoller::Constants(env));
  exports.Set("sys", fdloop::posix::CreateSys(env));
  exports.Set("sock", fdloop::posix::CreateSock(env));
  exports.Set("emulated", Napi::Boolean::New(env,
#ifdef FDLOOP_KQUEUE_EMULATION
                                             true
#else
                                             false
#endif
                                             ));
  exports.Set("priority", Napi::Boolean::New(env, FDLOOP_KQUEUE_HAVE_OOB != 0));
  return exports;
}

}  // namespace

NODE_API_MODULE(fdloop_kqueue, Init)
