// The Linux epoll poller: a PollerBase whose kernel descriptor is an epoll instance.
#pragma once

#include <napi.h>
#include <sys/epoll.h>

#include <memory>

#include "fdloop/posix/poller_wrap.h"

namespace fdloop::epoll {

// JS: `new Poller(batchSize, onEvents, maxRounds?)` with `add(fd, token, interest)`, `mod(fd, token, interest)`,
// `del(fd)` (each returning 0 or -errno) plus the shared members of PollerWrap (`events`, `ref()`, `unref()`,
// `close()`).
class EpollPoller : public posix::PollerWrap<EpollPoller> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EpollPoller(const Napi::CallbackInfo& info);

 private:
  int Harvest(double* pairs, uint32_t capacity) override;

  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Mod(const Napi::CallbackInfo& info);
  Napi::Value Del(const Napi::CallbackInfo& info);
  Napi::Value Ctl(const Napi::CallbackInfo& info, int op);

  // epoll_wait's output, batchSize entries, reused for every harvest.
  std::unique_ptr<epoll_event[]> kernel_events_;
};

}  // namespace fdloop::epoll
