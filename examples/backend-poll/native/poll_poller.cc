#include "poll_poller.h"

#include <cerrno>
#include <new>
#include <string>
#include <utility>

#include "fdloop/args.h"
#include "fdloop/contract.h"

namespace fdloop::pollbackend {

namespace {

// READABLE | WRITABLE | PRIORITY. The mode bits (EDGE, ONESHOT) are refused: poll(2) has neither.
constexpr int64_t kConditionBits = kInterestConditions;

// Reads the (fd, token, interest) arguments of add() and mod().
bool RegistrationArgs(const Napi::CallbackInfo& info, int* fd, double* token, int* interest) {
  int64_t token_value = 0;
  int64_t interest_value = 0;
  if (!FdArg(info, 0, fd) || !IntegerArg(info, 1, "token", 0, kMaxToken, &token_value) ||
      !IntegerArg(info, 2, "interest", 0, kConditionBits, &interest_value)) {
    return false;
  }
  *token = static_cast<double>(token_value);
  *interest = static_cast<int>(interest_value);
  return true;
}

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

// Throws a JS Error carrying `errno` (negative) and `syscall`, which the TypeScript layer turns into an ErrnoError.
void ThrowErrno(Napi::Env env, int negative_errno, const char* syscall) {
  Napi::Error error =
      Napi::Error::New(env, std::string(syscall) + " failed with errno " + std::to_string(-negative_errno));
  error.Set("errno", Napi::Number::New(env, negative_errno));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
}

}  // namespace

Napi::Function PollPoller::Define(Napi::Env env) {
  return DefineClass(env, "Poller",
                     {
                         InstanceMethod("add", &PollPoller::Add),
                         InstanceMethod("mod", &PollPoller::Mod),
                         InstanceMethod("del", &PollPoller::Del),
                         InstanceMethod("ref", &PollPoller::Ref),
                         InstanceMethod("unref", &PollPoller::Unref),
                         InstanceMethod("close", &PollPoller::Close),
                         InstanceAccessor("events", &PollPoller::Events, nullptr, napi_enumerable),
                     });
}

PollPoller::PollPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PollPoller>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  int64_t batch_size = 0;
  if (!IntegerArg(info, 0, "batchSize", 1, kMaxBatchSize, &batch_size)) return;
  if (!info[1].IsFunction()) {
    Napi::TypeError::New(env, "onEvents must be a function").ThrowAsJavaScriptException();
    return;
  }
  if (!info[2].IsString()) {
    Napi::TypeError::New(env, "threadName must be a string").ThrowAsJavaScriptException();
    return;
  }
  const std::string thread_name = info[2].As<Napi::String>().Utf8Value();
  batch_size_ = static_cast<uint32_t>(batch_size);

  Napi::Float64Array events = Napi::Float64Array::New(env, static_cast<size_t>(batch_size_) * 2);
  if (env.IsExceptionPending()) return;
  events_ = Napi::Persistent(events);
  on_events_ = Napi::Persistent(info[1].As<Napi::Function>());

  // The poller is the async resource that async_hooks see. Node-API holds it weakly; self_ keeps it alive until
  // Shutdown() destroys the context.
  if (napi_async_init(env, info.This(), Napi::String::New(env, "fdloop:PollPoller"), &async_context_) != napi_ok) {
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return;
  }

  uv_loop_s* loop = nullptr;
  // The environment's own loop, never uv_default_loop(): each worker thread has its own.
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return;
  }
  auto* handle = new (std::nothrow) AsyncHandle();
  if (handle == nullptr) {
    ThrowErrno(env, -ENOMEM, "malloc");
    return;
  }
  if (const int rc = uv_async_init(loop, &handle->async, OnAsync); rc < 0) {
    // Not yet known to libuv, so a plain delete is right (uv_close is only for initialized handles).
    delete handle;
    ThrowErrno(env, rc, "uv_async_init");
    return;
  }
  handle->async.data = handle;
  // From here on Shutdown() (run by the destructor if construction fails) closes the handle through uv_close.
  handle_ = handle;
  // Unref'd until the runtime has a ref'd watcher: an idle poller must not keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&handle->async));

  if (napi_add_async_cleanup_hook(env, OnEnvironmentTeardown, handle, &handle->cleanup) != napi_ok) {
    handle->cleanup = nullptr;
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return;
  }

  thread_.reset(new (std::nothrow) PollThread(Notify, handle));
  if (!thread_) {
    ThrowErrno(env, -ENOMEM, "malloc");
    return;
  }
  if (const int rc = thread_->Start(thread_name.c_str()); rc < 0) {
    ThrowErrno(env, rc, "pthread_create");
    return;
  }
  handle->owner = this;
  self_ = Napi::Persistent(info.This().As<Napi::Object>());
}

PollPoller::~PollPoller() { Shutdown(); }

void PollPoller::Shutdown() {
  // The thread first: once it is joined, nothing can call uv_async_send on the handle any more.
  if (thread_) {
    thread_->Stop();
    thread_.reset();
  }
  if (AsyncHandle* handle = handle_) {
    handle_ = nullptr;
    handle->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->async), OnHandleClosed);
  }
  if (async_context_ != nullptr) {
    // Ignored on purpose: it fails only for invalid arguments, and there is no caller to report to.
    (void)napi_async_destroy(env_, async_context_);
    async_context_ = nullptr;
  }
  on_events_.Reset();
  self_.Reset();
}

void PollPoller::Notify(void* arg) {
  // Thread-safe; several sends before the callback runs are coalesced into one callback, which is fine: there is
  // never more than one harvest pending.
  uv_async_send(&static_cast<AsyncHandle*>(arg)->async);
}

void PollPoller::OnHandleClosed(uv_handle_t* uv_handle) {
  auto* handle = static_cast<AsyncHandle*>(uv_handle->data);
  if (handle->cleanup != nullptr) {
    // Removing the hook after the handle is gone is what lets a terminating environment finish. Ignored on
    // purpose: it only fails for a null handle, excluded above.
    (void)napi_remove_async_cleanup_hook(handle->cleanup);
  }
  delete handle;
}

void PollPoller::OnEnvironmentTeardown(napi_async_cleanup_hook_handle /*hook*/, void* arg) {
  auto* handle = static_cast<AsyncHandle*>(arg);
  // With no owner, close() has already started uv_close and OnHandleClosed will remove the hook. Otherwise close
  // now (stopping the thread); again OnHandleClosed completes the hook.
  if (handle->owner != nullptr) handle->owner->Shutdown();
}

double* PollPoller::BatchData() {
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

bool PollPoller::Deliver(AsyncHandle* handle, napi_value recv, napi_value callback, int count, napi_value* error) {
  napi_env env = handle->owner->env_;
  napi_value argv = nullptr;
  napi_value result = nullptr;
  if (napi_create_int32(env, count, &argv) != napi_ok ||
      napi_call_function(env, recv, callback, 1, &argv, &result) != napi_ok) {
    *error = TakeException(env);
    return false;
  }
  // The poller may have been closed (and its thread joined) by the call; `handle` is alive until OnHandleClosed,
  // which cannot run inside this libuv callback.
  return handle->owner != nullptr;
}

void PollPoller::OnAsync(uv_async_t* async) {
  auto* handle = static_cast<AsyncHandle*>(async->data);
  if (handle->owner == nullptr) return;
  PollPoller* self = handle->owner;
  std::vector<ReadyRecord> records;
  int failure = 0;
  if (!self->thread_->Take(&records, &failure)) return;

  napi_env env = self->env_;
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    self->thread_->Consumed(std::move(records));
    return;
  }
  // Locals: they stay valid for this whole callback even if JS closes the poller and its references are reset.
  napi_value recv = self->self_.Value();
  napi_value callback = self->on_events_.Value();
  // One callback scope per wake-up, every batch of it a plain call: process.nextTick callbacks and promise
  // continuations run once when the scope closes, as after one of Node's own I/O callbacks.
  napi_callback_scope callback_scope = nullptr;
  if (napi_open_callback_scope(env, recv, self->async_context_, &callback_scope) != napi_ok) {
    self->thread_->Consumed(std::move(records));
    (void)napi_close_handle_scope(env, scope);
    return;
  }
  napi_value error = nullptr;
  bool open = true;
  size_t pos = 0;
  while (open && pos < records.size()) {
    double* pairs = self->BatchData();
    if (pairs == nullptr) {
      failure = -EFAULT;
      break;
    }
    const uint32_t count = self->thread_->Resolve(records, &pos, pairs, self->batch_size_);
    // Every remaining record was stale.
    if (count == 0) break;
    open = Deliver(handle, recv, callback, static_cast<int>(count), &error);
    // Re-read after every call: JS may have closed the poller (owner is null then, and self is gone).
    self = handle->owner;
  }
  if (failure < 0 && handle->owner != nullptr && error == nullptr) {
    // poll(2) failed, or the batch buffer was transferred away: report it once and stop polling, as the epoll
    // backend does; the runtime turns the report into an error for its handler.
    handle->owner->thread_->Fail();
    Deliver(handle, recv, callback, failure, &error);
  }
  // Still open (also after a JS exception): the poll thread may poll again.
  if (handle->owner != nullptr) handle->owner->thread_->Consumed(std::move(records));
  // Ignored on purpose: closing scopes we opened on this thread cannot fail in a way we could act upon. Closing
  // the callback scope runs the nextTick queue and microtasks.
  (void)napi_close_callback_scope(env, callback_scope);
  if (error != nullptr) {
    // An exception thrown by onEvents is re-raised the way Node treats one thrown from any I/O callback.
    (void)napi_fatal_exception(env, error);
  }
  (void)napi_close_handle_scope(env, scope);
}

Napi::Value PollPoller::Add(const Napi::CallbackInfo& info) {
  int fd = 0;
  double token = 0;
  int interest = 0;
  if (!RegistrationArgs(info, &fd, &token, &interest)) return Napi::Value();
  if (!thread_) return Napi::Number::New(info.Env(), -EBADF);
  return Napi::Number::New(info.Env(), thread_->Add(fd, token, interest));
}

Napi::Value PollPoller::Mod(const Napi::CallbackInfo& info) {
  int fd = 0;
  double token = 0;
  int interest = 0;
  if (!RegistrationArgs(info, &fd, &token, &interest)) return Napi::Value();
  if (!thread_) return Napi::Number::New(info.Env(), -EBADF);
  return Napi::Number::New(info.Env(), thread_->Modify(fd, token, interest));
}

Napi::Value PollPoller::Del(const Napi::CallbackInfo& info) {
  int fd = 0;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  if (!thread_) return Napi::Number::New(info.Env(), -EBADF);
  return Napi::Number::New(info.Env(), thread_->Remove(fd));
}

Napi::Value PollPoller::Ref(const Napi::CallbackInfo& info) {
  if (handle_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->async));
  return info.Env().Undefined();
}

Napi::Value PollPoller::Unref(const Napi::CallbackInfo& info) {
  if (handle_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->async));
  return info.Env().Undefined();
}

Napi::Value PollPoller::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value PollPoller::Events(const Napi::CallbackInfo& info) {
  if (events_.IsEmpty()) return info.Env().Undefined();
  return events_.Value();
}

}  // namespace fdloop::pollbackend
