// The JS side of the poll backend: a Napi::ObjectWrap that owns a PollThread and one uv_async_t on the current
// environment's libuv loop. The poll thread signals the uv_async_t when poll(2) found something; its callback runs
// on the JS thread, turns the harvest into (token, flags) pairs in the shared Float64Array and calls onEvents once
// per batch inside a callback scope.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "poll_thread.h"

namespace fdloop::pollbackend {

class PollPoller;

// Heap state shared between the JS wrapper, the poll thread (which only calls uv_async_send on it) and libuv. It is
// separate from the wrapper because libuv owns it from uv_close() until OnHandleClosed runs, and the wrapper may be
// finalized in between (for example while the environment tears down). Only OnHandleClosed frees it.
struct AsyncHandle {
  uv_async_t async{};
  // The poller to deliver to; null as soon as closing starts, so nothing reaches JS after close().
  PollPoller* owner = nullptr;
  // Registered while the poller is open; removed by OnHandleClosed once the handle is really gone, which is what
  // tells a terminating environment that this poller has finished closing.
  napi_async_cleanup_hook_handle cleanup = nullptr;
};

// JS: `new Poller(batchSize, onEvents, threadName)` with `add(fd, token, interest)`, `mod(fd, token, interest)`,
// `del(fd)` (each returning 0 or -errno), `ref()`, `unref()`, `close()` and the `events` accessor.
class PollPoller : public Napi::ObjectWrap<PollPoller> {
 public:
  // Largest accepted batch size: 2^20 pairs is a 16 MiB buffer.
  static constexpr uint32_t kMaxBatchSize = 1u << 20;

  static Napi::Function Define(Napi::Env env);
  explicit PollPoller(const Napi::CallbackInfo& info);
  // Closes the poller without calling into JS if it is still open (construction failed, or the environment is
  // finalizing objects).
  ~PollPoller() override;

 private:
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Mod(const Napi::CallbackInfo& info);
  Napi::Value Del(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Events(const Napi::CallbackInfo& info);

  // Stops and joins the poll thread, starts uv_close, drops the JS references. Idempotent. Never calls into JS,
  // so it is safe from the destructor and from the environment's cleanup hook.
  void Shutdown();
  // The batch buffer's data, or null if it is no longer usable (its ArrayBuffer was transferred away).
  double* BatchData();

  // Poll thread → JS thread.
  static void Notify(void* arg);
  static void OnAsync(uv_async_t* async);
  static void OnHandleClosed(uv_handle_t* handle);
  static void OnEnvironmentTeardown(napi_async_cleanup_hook_handle hook, void* arg);
  // Hands one batch (or -errno) to JS with a plain call (OnAsync holds the callback scope). Returns true if the
  // poller is still open afterwards; on a JS exception, stores it in `error` and returns false.
  static bool Deliver(AsyncHandle* handle, napi_value recv, napi_value callback, int count, napi_value* error);

  napi_env env_ = nullptr;
  uint32_t batch_size_ = 0;
  AsyncHandle* handle_ = nullptr;
  std::unique_ptr<PollThread> thread_;
  napi_async_context async_context_ = nullptr;
  Napi::FunctionReference on_events_;
  Napi::Reference<Napi::Float64Array> events_;
  // Strong reference to our own JS object while open: a poller that is polling must not be collected, even if
  // the runtime drops every reference to it without closing it.
  Napi::ObjectReference self_;
};

}  // namespace fdloop::pollbackend
