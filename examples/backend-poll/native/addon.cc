// Entry point of fdloop_poll.node. Exports `Poller` (the poll(2) poller class) and `readHangup` (whether this
// platform's poll(2) has POLLRDHUP). Nothing here is process-global: the module is initialized once per
// environment (main thread and each worker), and every piece of state hangs off a Poller object.
#include <napi.h>

#include "poll_poller.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Poller", fdloop::pollbackend::PollPoller::Define(env));
  exports.Set("readHangup", Napi::Boolean::New(env, fdloop::pollbackend::PollThread::kHasReadHangup));
  return exports;
}

}  // namespace

NODE_API_MODULE(fdloop_poll, Init)
