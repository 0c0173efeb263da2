// io_uring completion I/O for Linux, with raw system calls (no liburing). One Ring per runtime (per thread).
//
// JS drives everything: it queues operations (readFile, open, read, write, closeFd), calls submit() once per
// tick to hand the batch to the kernel in one io_uring_enter, and calls reap() when the ring's eventfd (watched
// by the runtime's epoll poller) becomes readable. reap() advances multi-step operations inside native code
// (readFile = statx, openat, read until done, close) and returns the finished ones. Native code never calls into
// JS, holds no process-global state, owns every buffer the kernel writes to, and on destroy() or environment
// teardown cancels what is in flight and waits for the kernel to let go before freeing anything.
#pragma once

#include <napi.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_set>

struct io_uring_sqe;
struct io_uring_cqe;

namespace fdloop::uring {

struct Request;

class Ring : public Napi::ObjectWrap<Ring> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Ring(const Napi::CallbackInfo& info);
  ~Ring() override;

 private:
  Napi::Value Error(const Napi::CallbackInfo& info);
  Napi::Value EventFd(const Napi::CallbackInfo& info);
  Napi::Value Capacity(const Napi::CallbackInfo& info);
  Napi::Value InFlight(const Napi::CallbackInfo& info);
  Napi::Value ReadFile(const Napi::CallbackInfo& info);
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value CloseFd(const Napi::CallbackInfo& info);
  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value Reap(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);

  int Setup(unsigned entries);
  void Teardown();
  static void CleanupHook(void* arg);

  // Queue a request's current step: into the submission queue when there is room, else into backlog_.
  void Queue(Request* r);
  // Fill the submission queue from the backlog, then hand everything queued to the kernel. Returns the number
  // submitted or -errno.
  int Flush();
  io_uring_sqe* NextSqe();
  void Prepare(Request* r, io_uring_sqe* sqe);
  // Apply one completion to its request; returns true when the request is finished.
  bool Advance(Request* r, int res);

  int ring_fd_ = -1;
  int event_fd_ = -1;
  int setup_error_ = 0;
  bool hook_added_ = false;
  napi_env env_ = nullptr;

  // The mmap'ed rings.
  void* sq_ptr_ = nullptr;
  size_t sq_size_ = 0;
  void* cq_ptr_ = nullptr;
  size_t cq_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned cq_mask_ = 0;
  unsigned cq_entries_ = 0;

  // SQEs written but not yet published to the kernel (local tail minus published tail).
  unsigned local_tail_ = 0;
  unsigned to_submit_ = 0;
  // Requests the kernel holds (one step each); capped at cq_entries_ so the completion queue never overflows.
  unsigned in_kernel_ = 0;
  std::deque<Request*> backlog_;
  std::unordered_set<Request*> live_;
  std::deque<Request*> done_;
};

// The `uring` namespace of the addon: `{ Ring }`.
Napi::Object CreateUring(Napi::Env env);

}  // namespace fdloop::uring
