#include "fdloop/posix/poller_base.h"

#include <cerrno>
#include <new>
#include <string>

#include "fdloop/args.h"
#include "fdloop/posix/syscall.h"

namespace fdloop::posix {

namespace {

// A JS call made from a libuv callback failed. Takes the pending exception, if any, so that it can be re-raised
// once the callback scope is closed. Returns null when JS could not be entered at all (the environment is
// terminating, e.g. a worker's terminate()): there is nobody left to tell.
napi_value TakeException(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return nullptr;
  napi_value error = nullptr;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) return nullptr;
  return error;
}

}  // namespace

PollerBase::~PollerBase() { Shutdown(); }

bool PollerBase::ParseArgs(const Napi::CallbackInfo& info, uint32_t* batch_size, uint32_t* max_rounds) {
  int64_t value = 0;
  if (!IntegerArg(info, 0, "batchSize", 1, kMaxBatchSize, &value)) return false;
  *batch_size = static_cast<uint32_t>(value);
  if (!info[1].IsFunction()) {
    Napi::TypeError::New(info.Env(), "onEvents must be a function").ThrowAsJavaScriptException();
    return false;
  }
  *max_rounds = kDefaultRounds;
  if (!info[2].IsUndefined()) {
    if (!IntegerArg(info, 2, "maxRounds", 1, kMaxRounds, &value)) return false;
    *max_rounds = static_cast<uint32_t>(value);
  }
  return true;
}

void PollerBase::ThrowErrno(Napi::Env env, int negative_errno, const char* syscall) {
  Napi::Error error =
      Napi::Error::New(env, std::string(syscall) + " failed with errno " + std::to_string(-negative_errno));
  error.Set("errno", Napi::Number::New(env, negative_errno));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
}

bool PollerBase::Open(const Napi::CallbackInfo& info, int kernel_fd, uint32_t batch_size, uint32_t max_rounds) {
  Napi::Env env = info.Env();
  env_ = env;
  kernel_fd_ = kernel_fd;
  batch_size_ = batch_size;
  max_rounds_ = max_rounds;

  Napi::Float64Array events = Napi::Float64Array::New(env, static_cast<size_t>(batch_size) * 2);
  if (env.IsExceptionPending()) return false;
  events_ = Napi::Persistent(events);
  on_events_ = Napi::Persistent(info[1].As<Napi::Function>());

  // The poller itself is the async resource that async_hooks see. Node-API holds it only weakly, so this creates
  // no cycle; self_ keeps it alive until Shutdown() destroys the context, as napi_async_init requires.
  if (napi_async_init(env, info.This(), Napi::String::New(env, "fdloop:Poller"), &async_context_) != napi_ok) {
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return false;
  }

  uv_loop_s* loop = nullptr;
  // The environment's own loop, never uv_default_loop(): each worker thread has its own.
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return false;
  }

  auto* handle = new (std::nothrow) PollHandle();
  if (handle == nullptr) {
    ThrowErrno(env, -ENOMEM, "malloc");
    return false;
  }
  const int init = uv_poll_init(loop, &handle->poll, kernel_fd);
  if (init < 0) {
    // Not yet known to libuv, so a plain delete is right (uv_close is only for initialized handles).
    delete handle;
    ThrowErrno(env, init, "uv_poll_init");
    return false;
  }
  handle->poll.data = handle;
  // From here on Shutdown() (run by the destructor if construction fails) closes the handle through uv_close.
  handle_ = handle;
  // Unref'd until the runtime has a ref'd watcher: an idle poller must not keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&handle->poll));

  const int start = uv_poll_start(&handle->poll, UV_READABLE, OnPoll);
  if (start < 0) {
    ThrowErrno(env, start, "uv_poll_start");
    return false;
  }
  if (napi_add_async_cleanup_hook(env, OnEnvironmentTeardown, handle, &handle->cleanup) != napi_ok) {
    handle->cleanup = nullptr;
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return false;
  }
  handle->owner = this;
  self_ = Napi::Persistent(info.This().As<Napi::Object>());
  return true;
}

void PollerBase::Shutdown() {
  if (PollHandle* handle = handle_) {
    handle_ = nullptr;
    handle->owner = nullptr;
    // uv_close stops the poll and removes the descriptor from libuv's own epoll set before it returns, so the
    // kernel descriptor can be closed right below even though the close callback runs later.
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), OnHandleClosed);
  }
  if (kernel_fd_ >= 0) {
    // The result is ignored on purpose: the descriptor is ours and released even when close reports an error,
    // nothing could be retried, and this may run from a finalizer where no one can be told.
    (void)CloseFd(kernel_fd_);
    kernel_fd_ = -1;
  }
  if (async_context_ != nullptr) {
    // Ignored on purpose: it fails only for invalid arguments, which cannot happen here, and there is no caller
    // to report to.
    (void)napi_async_destroy(env_, async_context_);
    async_context_ = nullptr;
  }
  on_events_.Reset();
  self_.Reset();
}

void PollerBase::OnHandleClosed(uv_handle_t* uv_handle) {
  auto* handle = static_cast<PollHandle*>(uv_handle->data);
  if (handle->cleanup != nullptr) {
    // Removing the hook after the handle is gone is what lets a terminating environment finish. The status is
    // ignored on purpose: it only fails for a null handle, excluded above.
    (void)napi_remove_async_cleanup_hook(handle->cleanup);
  }
  delete handle;
}

void PollerBase::OnEnvironmentTeardown(napi_async_cleanup_hook_handle /*hook*/, void* arg) {
  auto* handle = static_cast<PollHandle*>(arg);
  // With no owner, close() has already started uv_close and OnHandleClosed will remove the hook, which completes
  // it. Otherwise close now; again OnHandleClosed completes the hook.
  if (handle->owner != nullptr) handle->owner->Shutdown();
}

double* PollerBase::BatchData() {
  napi_value value = nullptr;
  if (events_.IsEmpty() || napi_get_reference_value(env_, events_, &value) != napi_ok || value == nullptr) {
    return nullptr;
  }
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env_, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return nullptr;
  // A transferred (detached) buffer reports length 0: never write through a stale pointer.
  if (type != napi_float64_array || length != static_cast<size_t>(batch_size_) * 2 || data == nullptr) {
    return nullptr;
  }
  return static_cast<double*>(data);
}

bool PollerBase::Deliver(PollHandle* handle, napi_value recv, napi_value callback, int count, napi_value* error) {
  napi_env env = handle->owner->env_;
  napi_value argv = nullptr;
  napi_value result = nullptr;
  if (napi_create_int32(env, count, &argv) != napi_ok ||
      napi_call_function(env, recv, callback, 1, &argv, &result) != napi_ok) {
    *error = TakeException(env);
    return false;
  }
  // The wrapper may have been closed (and even collected) by the call; `handle` is alive until OnHandleClosed,
  // which cannot run inside this libuv callback.
  return handle->owner != nullptr;
}

void PollerBase::OnPoll(uv_poll_t* poll, int status, int /*events*/) {
  auto* handle = static_cast<PollHandle*>(poll->data);
  if (handle->owner == nullptr) return;
  PollerBase* self = handle->owner;
  napi_env env = self->env_;
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  // Locals: they stay valid for this whole callback even if JS closes the poller and its references are reset.
  napi_value recv = self->self_.Value();
  napi_value callback = self->on_events_.Value();
  // One callback scope per wake-up, not per batch: every batch of this wake-up is a plain call, and
  // process.nextTick callbacks and promise continuations run once when the scope closes, exactly as after one of
  // Node's own I/O callbacks. A scope per batch (napi_make_callback) cost ~6% of pipe ping-pong throughput. The
  // async context is only read while opening, so JS may destroy it (close()) inside the scope.
  napi_callback_scope callback_scope = nullptr;
  if (napi_open_callback_scope(env, recv, self->async_context_, &callback_scope) != napi_ok) {
    // Ignored on purpose, as below.
    (void)napi_close_handle_scope(env, scope);
    return;
  }
  napi_value error = nullptr;

  if (status < 0) {
    // libuv could not poll the kernel descriptor. That would repeat on every loop iteration, so report it once
    // and stop polling; the runtime turns the report into an error for its handler.
    uv_poll_stop(poll);
    Deliver(handle, recv, callback, status, &error);
  } else {
    const uint32_t batch_size = self->batch_size_;
    const uint32_t max_rounds = self->max_rounds_;
    // Look again after every non-empty batch, not only after a full one: callbacks often make other watched
    // descriptors ready at once (a proxy writing what it read, a pipeline of pipes), and harvesting those now
    // saves a whole libuv iteration per hop — measured as ~1.4x round trips/s on pipe ping-pong. The price is one
    // empty epoll_wait per wake-up when nothing else is ready. Bounded by max_rounds and by a time budget so that
    // timers and other I/O still run soon enough.
    const uint64_t deadline = uv_hrtime() + kRoundBudgetNs;
    for (uint32_t round = 0; round < max_rounds; ++round) {
      if (round > 0 && uv_hrtime() > deadline) break;
      double* pairs = self->BatchData();
      const int count = pairs != nullptr ? self->Harvest(pairs, batch_size) : -EFAULT;
      if (count == 0) break;
      if (count < 0) {
        uv_poll_stop(poll);
        Deliver(handle, recv, callback, count, &error);
        break;
      }
      if (!Deliver(handle, recv, callback, count, &error)) break;
      self = handle->owner;
    }
  }
  // Ignored on purpose: closing scopes we opened on this thread cannot fail in a way we could act upon. Closing
  // the callback scope runs the nextTick queue and microtasks.
  (void)napi_close_callback_scope(env, callback_scope);
  if (error != nullptr) {
    // An exception thrown by onEvents is re-raised the way Node treats one thrown from any I/O callback:
    // 'uncaughtException', or the error printed and the process exiting. The status is ignored on purpose:
    // napi_fatal_exception fails only when JS can no longer run, and then no handler could receive the error.
    (void)napi_fatal_exception(env, error);
  }
  (void)napi_close_handle_scope(env, scope);
}

Napi::Value PollerBase::EventsValue(Napi::Env env) const {
  if (events_.IsEmpty()) return env.Undefined();
  return events_.Value();
}

void PollerBase::KeepLoopAlive(bool keep) {
  if (handle_ == nullptr) return;
  auto* uv_handle = reinterpret_cast<uv_handle_t*>(&handle_->poll);
  if (keep) {
    uv_ref(uv_handle);
  } else {
    uv_unref(uv_handle);
  }
}

}  // namespace fdloop::posix
