// The part of a native poller that does not depend on the kernel interface: integration with the current
// environment's libuv loop through one uv_poll_t on the kernel poller's descriptor, the shared (token, flags) batch
// buffer, delivery of batches to JS inside a callback scope, keep-alive (ref/unref), and teardown when the
// environment ends. A backend (epoll, kqueue) derives from PollerWrap<Derived> (poller_wrap.h), which
// adds the JS-visible members, creates its kernel descriptor, and implements Harvest().
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>

namespace fdloop::posix {

class PollerBase;

// Heap state shared between the JS wrapper and libuv. It is separate from the wrapper because libuv owns it from
// uv_close() until OnHandleClosed runs, and the wrapper may be finalized in between (for example while the
// environment tears down). Only OnHandleClosed frees it.
struct PollHandle {
  uv_poll_t poll{};
  // The poller to deliver to; null as soon as closing starts, so nothing reaches JS after close().
  PollerBase* owner = nullptr;
  // Registered while the poller is open; removed by OnHandleClosed once the handle is really gone, which is what
  // tells a terminating environment that this poller has finished closing.
  napi_async_cleanup_hook_handle cleanup = nullptr;
};

class PollerBase {
 public:
  PollerBase(const PollerBase&) = delete;
  PollerBase& operator=(const PollerBase&) = delete;

  // Largest accepted batch size: 2^20 pairs is a 16 MiB buffer, far past the point where bigger batches help.
  static constexpr uint32_t kMaxBatchSize = 1u << 20;
  // Largest accepted number of consecutive harvests in one wake-up before returning to libuv.
  static constexpr uint32_t kMaxRounds = 1024;
  // Default for the above: enough to follow chained readiness and drain a burst; the time budget below is what
  // keeps timers and other I/O from waiting long.
  static constexpr uint32_t kDefaultRounds = 64;
  // After this long in one wake-up no further harvest starts (the current batch always completes): 1 ms, about
  // the resolution of Node's timers, so a busy poller delays them by about one timer tick at most.
  static constexpr uint64_t kRoundBudgetNs = 1000000;

 protected:
  PollerBase() = default;
  // Closes the poller without calling into JS if it is still open (only possible when construction failed or the
  // environment is finalizing objects).
  virtual ~PollerBase();

  // Parses the JS constructor arguments (batchSize, onEvents, maxRounds?) shared by all backends. Returns false with
  // a JS exception pending.
  static bool ParseArgs(const Napi::CallbackInfo& info, uint32_t* batch_size, uint32_t* max_rounds);

  // Starts polling `kernel_fd`, which this object owns from now on (Shutdown() closes it, also after a failure).
  // info.This() is the wrapper's JS object, kept alive while the poller is open; info[1] is onEvents, already
  // checked by ParseArgs. Returns false with a JS exception pending.
  bool Open(const Napi::CallbackInfo& info, int kernel_fd, uint32_t batch_size, uint32_t max_rounds);

  // Moves up to `capacity` ready events from the kernel into `pairs` as (token, flags) doubles. Returns the
  // number of pairs written or -errno. Called only while the poller is open, from the loop thread.
  virtual int Harvest(double* pairs, uint32_t capacity) = 0;

  // The kernel poller's descriptor, or -1 once closed.
  int kernel_fd() const { return kernel_fd_; }

  // The shared batch buffer (a Float64Array), or undefined if construction failed before it existed.
  Napi::Value EventsValue(Napi::Env env) const;
  // Whether the poll handle keeps the loop alive (uv_ref / uv_unref). No-op once closed.
  void KeepLoopAlive(bool keep);
  // Stops polling, starts uv_close, closes the kernel descriptor and drops the JS references. Idempotent. Never
  // calls into JS, so it is safe from a finalizer and from the environment's cleanup hook.
  void Shutdown();

  // Throws a JS Error carrying `errno` (negative) and `syscall` properties, which the TypeScript layer turns into
  // an ErrnoError. For failures in constructors, which cannot return an error code.
  static void ThrowErrno(Napi::Env env, int negative_errno, const char* syscall);

 private:
  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnHandleClosed(uv_handle_t* handle);
  static void OnEnvironmentTeardown(napi_async_cleanup_hook_handle hook, void* arg);
  // Hands one batch (or -errno) to JS with a plain call (OnPoll holds the callback scope). Returns true if the
  // poller is still open afterwards; on a JS exception, stores it in `error` and returns false.
  static bool Deliver(PollHandle* handle, napi_value recv, napi_value callback, int count, napi_value* error);
  // The batch buffer's data, or null if it is no longer usable (its ArrayBuffer was transferred away).
  double* BatchData();

  napi_env env_ = nullptr;
  int kernel_fd_ = -1;
  uint32_t batch_size_ = 0;
  uint32_t max_rounds_ = kDefaultRounds;
  PollHandle* handle_ = nullptr;
  napi_async_context async_context_ = nullptr;
  Napi::FunctionReference on_events_;
  Napi::Reference<Napi::Float64Array> events_;
  // Strong reference to our own JS object while open: a poller that is polling must not be collected, even if
  // the runtime drops every reference to it without closing it.
  Napi::ObjectReference self_;
};

}  // namespace fdloop::posix
