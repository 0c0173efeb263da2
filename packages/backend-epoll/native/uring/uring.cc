// io_uring completion I/O with raw system calls. See uring.h for the model.
#include "uring/uring.h"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace fdloop::uring {

namespace {

int SysSetup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}

int SysEnter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}

int SysRegister(int fd, unsigned opcode, const void* arg, unsigned nr_args) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, opcode, arg, nr_args));
}

// Which system call failed, as reported to JS (which names it like node:fs does).
enum Syscall : int { kNone = 0, kOpenCall = 1, kReadCall = 2, kWriteCall = 3, kCloseCall = 4 };

// Why a request was refused before any I/O: the file is pollable and could block (see mod-fs).
enum Pollable : int { kNotPollable = 0, kFifo = 1, kSocket = 2, kCharDevice = 3 };

enum class Kind { kReadFile, kOpen, kRead, kWrite, kClose };
enum class Step { kStatxPath, kStatxFd, kOpenat, kRead, kWrite, kClose };

constexpr size_t kFirstChunk = 64 * 1024;
constexpr size_t kMaxFile = 0x7fffffff;  // Node's largest Buffer on 64-bit Node 20 is larger; 2 GiB is ours.
constexpr int kMaxRounds = 64;

int PollableType(const struct statx& stx) {
  const unsigned mode = stx.stx_mode;
  if (S_ISFIFO(mode)) return kFifo;
  if (S_ISSOCK(mode)) return kSocket;
  // Character devices block (ttys, serial lines), except the memory devices (major 1: null, zero, urandom…).
  if (S_ISCHR(mode) && stx.stx_rdev_major != 1) return kCharDevice;
  return kNotPollable;
}

}  // namespace

struct Request {
  double id = 0;
  Kind kind = Kind::kReadFile;
  Step step = Step::kStatxPath;
  std::string path;
  int fd = -1;
  int flags = 0;
  unsigned mode = 0;
  int64_t position = -1;
  std::unique_ptr<uint8_t[]> buf;
  size_t cap = 0;
  size_t len = 0;
  size_t size_hint = 0;
  struct statx stx {};
  int64_t result = 0;
  int failed = kNone;
  int pollable = kNotPollable;
};

Napi::Function Ring::Define(Napi::Env env) {
  return DefineClass(env, "Ring",
                     {
                         InstanceMethod("error", &Ring::Error),
                         InstanceMethod("eventFd", &Ring::EventFd),
                         InstanceMethod("capacity", &Ring::Capacity),
                         InstanceMethod("inFlight", &Ring::InFlight),
                         InstanceMethod("readFile", &Ring::ReadFile),
                         InstanceMethod("open", &Ring::Open),
                         InstanceMethod("read", &Ring::Read),
                         InstanceMethod("write", &Ring::Write),
                         InstanceMethod("closeFd", &Ring::CloseFd),
                         InstanceMethod("submit", &Ring::Submit),
                         InstanceMethod("reap", &Ring::Reap),
                         InstanceMethod("destroy", &Ring::Destroy),
                     });
}

// JS: `new Ring(entries)`. Construction never throws for kernel failures: `error()` returns 0 or -errno (EPERM
// when io_uring_disabled forbids it, ENOSYS without io_uring), so the TypeScript side can fall back to the pool.
Ring::Ring(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Ring>(info) {
  env_ = info.Env();
  unsigned entries = 256;
  if (info.Length() > 0 && info[0].IsNumber()) {
    const int64_t n = info[0].As<Napi::Number>().Int64Value();
    if (n >= 1 && n <= 4096) entries = static_cast<unsigned>(n);
  }
  setup_error_ = Setup(entries);
  if (setup_error_ != 0) {
    Teardown();
    return;
  }
  if (napi_add_env_cleanup_hook(env_, &Ring::CleanupHook, this) == napi_ok) hook_added_ = true;
}

Ring::~Ring() {
  if (hook_added_) napi_remove_env_cleanup_hook(env_, &Ring::CleanupHook, this);
  hook_added_ = false;
  Teardown();
}

void Ring::CleanupHook(void* arg) {
  Ring* self = static_cast<Ring*>(arg);
  self->hook_added_ = false;
  self->Teardown();
}

int Ring::Setup(unsigned entries) {
  io_uring_params p{};
  // No COOP_TASKRUN: completions must be posted (and the eventfd signalled) without this thread entering the
  // kernel, because the thread waits in epoll, not in io_uring_enter.
  p.flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
  int fd = SysSetup(entries, &p);
  if (fd < 0 && errno == EINVAL) {
    // Kernels before 5.18 lack SUBMIT_ALL.
    p = io_uring_params{};
    p.flags = IORING_SETUP_CLAMP;
    fd = SysSetup(entries, &p);
  }
  if (fd < 0) return -errno;
  ring_fd_ = fd;
  sq_entries_ = p.sq_entries;
  cq_entries_ = p.cq_entries;
  sq_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_size_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) sq_size_ = cq_size_ = std::max(sq_size_, cq_size_);
  void* sq = mmap(nullptr, sq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) return -errno;
  sq_ptr_ = sq;
  if (single) {
    cq_ptr_ = sq;
  } else {
    void* cq = mmap(nullptr, cq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) return -errno;
    cq_ptr_ = cq;
  }
  sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return -errno;
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  auto* sqb = static_cast<uint8_t*>(sq_ptr_);
  auto* cqb = static_cast<uint8_t*>(cq_ptr_);
  sq_head_ = reinterpret_cast<unsigned*>(sqb + p.sq_off.head);
  sq_tail_ = reinterpret_cast<unsigned*>(sqb + p.sq_off.tail);
  sq_mask_ = *reinterpret_cast<unsigned*>(sqb + p.sq_off.ring_mask);
  sq_array_ = reinterpret_cast<unsigned*>(sqb + p.sq_off.array);
  cq_head_ = reinterpret_cast<unsigned*>(cqb + p.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(cqb + p.cq_off.tail);
  cq_mask_ = *reinterpret_cast<unsigned*>(cqb + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cqb + p.cq_off.cqes);
  local_tail_ = *sq_tail_;
  const int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return -errno;
  event_fd_ = efd;
  if (SysRegister(ring_fd_, IORING_REGISTER_EVENTFD, &event_fd_, 1) < 0) return -errno;
  return 0;
}

io_uring_sqe* Ring::NextSqe() {
  const unsigned head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  if (local_tail_ - head >= sq_entries_) return nullptr;
  const unsigned index = local_tail_ & sq_mask_;
  sq_array_[index] = index;
  local_tail_++;
  to_submit_++;
  io_uring_sqe* sqe = &sqes_[index];
  std::memset(sqe, 0, sizeof(*sqe));
  return sqe;
}

void Ring::Prepare(Request* r, io_uring_sqe* sqe) {
  sqe->user_data = reinterpret_cast<uint64_t>(r);
  switch (r->step) {
    case Step::kStatxPath:
    case Step::kStatxFd:
      sqe->opcode = IORING_OP_STATX;
      sqe->fd = r->step == Step::kStatxPath ? AT_FDCWD : r->fd;
      sqe->addr = reinterpret_cast<uint64_t>(r->step == Step::kStatxPath ? r->path.c_str() : "");
      sqe->len = STATX_TYPE | STATX_MODE | STATX_SIZE;
      sqe->off = reinterpret_cast<uint64_t>(&r->stx);
      sqe->statx_flags = r->step == Step::kStatxPath ? 0 : AT_EMPTY_PATH;
      break;
    case Step::kOpenat:
      sqe->opcode = IORING_OP_OPENAT;
      sqe->fd = AT_FDCWD;
      sqe->addr = reinterpret_cast<uint64_t>(r->path.c_str());
      sqe->len = r->mode;
      sqe->open_flags = static_cast<uint32_t>(r->flags);
      break;
    case Step::kRead:
      sqe->opcode = IORING_OP_READ;
      sqe->fd = r->fd;
      sqe->addr = reinterpret_cast<uint64_t>(r->buf.get() + r->len);
      sqe->len = static_cast<uint32_t>(r->cap - r->len);
      sqe->off = r->kind == Kind::kReadFile ? static_cast<uint64_t>(r->len) : static_cast<uint64_t>(r->position);
      break;
    case Step::kWrite:
      sqe->opcode = IORING_OP_WRITE;
      sqe->fd = r->fd;
      sqe->addr = reinterpret_cast<uint64_t>(r->buf.get());
      sqe->len = static_cast<uint32_t>(r->len);
      sqe->off = static_cast<uint64_t>(r->position);
      break;
    case Step::kClose:
      sqe->opcode = IORING_OP_CLOSE;
      sqe->fd = r->fd;
      break;
  }
}

void Ring::Queue(Request* r) { backlog_.push_back(r); }

int Ring::Flush() {
  for (;;) {
    while (!backlog_.empty() && in_kernel_ < cq_entries_) {
      io_uring_sqe* sqe = NextSqe();
      if (sqe == nullptr) break;
      Prepare(backlog_.front(), sqe);
      backlog_.pop_front();
      in_kernel_++;
    }
    __atomic_store_n(sq_tail_, local_tail_, __ATOMIC_RELEASE);
    if (to_submit_ == 0) return 0;
    const int rc = SysEnter(ring_fd_, to_submit_, 0, 0);
    if (rc < 0) {
      const int err = errno;
      // Busy or interrupted: what is queued stays queued and goes with the next submit or reap.
      if (err == EINTR || err == EAGAIN || err == EBUSY) return 0;
      return -err;
    }
    to_submit_ -= static_cast<unsigned>(rc);
    if (rc == 0 || backlog_.empty() || in_kernel_ >= cq_entries_) return rc;
  }
}

bool Ring::Advance(Request* r, int res) {
  switch (r->step) {
    case Step::kStatxPath:
    case Step::kStatxFd:
      // A failed statx is not reported: the operation itself then fails with node:fs's own syscall name.
      if (res == 0) {
        r->pollable = PollableType(r->stx);
        if (r->pollable != kNotPollable) return true;
        r->size_hint = static_cast<size_t>(r->stx.stx_size);
      }
      if (r->kind == Kind::kRead) {
        r->step = Step::kRead;
      } else if (r->kind == Kind::kWrite) {
        r->step = Step::kWrite;
      } else {
        r->step = Step::kOpenat;
      }
      return false;
    case Step::kOpenat:
      if (res < 0) {
        r->result = res;
        r->failed = kOpenCall;
        return true;
      }
      if (r->kind == Kind::kOpen) {
        r->result = res;
        return true;
      }
      r->fd = res;
      r->cap = r->size_hint > 0 && r->size_hint <= kMaxFile ? r->size_hint : kFirstChunk;
      r->buf.reset(new uint8_t[r->cap]);
      r->len = 0;
      r->step = Step::kRead;
      return false;
    case Step::kRead:
      if (r->kind == Kind::kRead) {
        r->result = res;
        if (res < 0) r->failed = kReadCall;
        else r->len = static_cast<size_t>(res);
        return true;
      }
      if (res < 0) {
        r->result = res;
        r->failed = kReadCall;
        r->step = Step::kClose;
        return false;
      }
      r->len += static_cast<size_t>(res);
      if (res == 0 || (r->size_hint > 0 && r->len >= r->size_hint)) {
        r->step = Step::kClose;
        return false;
      }
      if (r->len == r->cap) {
        if (r->cap >= kMaxFile) {
          r->result = -EFBIG;
          r->failed = kReadCall;
          r->step = Step::kClose;
          return false;
        }
        const size_t grown = std::min(r->cap * 2, kMaxFile);
        std::unique_ptr<uint8_t[]> bigger(new uint8_t[grown]);
        std::memcpy(bigger.get(), r->buf.get(), r->len);
        r->buf = std::move(bigger);
        r->cap = grown;
      }
      return false;
    case Step::kWrite:
      r->result = res;
      if (res < 0) r->failed = kWriteCall;
      return true;
    case Step::kClose:
      if (r->kind == Kind::kClose) {
        r->result = res;
        if (res < 0) r->failed = kCloseCall;
        return true;
      }
      r->fd = -1;
      if (r->result >= 0) {
        if (res < 0) {
          r->result = res;
          r->failed = kCloseCall;
        } else {
          r->result = static_cast<int64_t>(r->len);
        }
      }
      return true;
  }
  return true;
}

Napi::Value Ring::Error(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), setup_error_); }

Napi::Value Ring::EventFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), event_fd_); }

Napi::Value Ring::Capacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cq_entries_); }

Napi::Value Ring::InFlight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live_.size()));
}

namespace {

bool Usable(const Napi::CallbackInfo& info, int ring_fd) {
  if (ring_fd < 0) {
    Napi::Error::New(info.Env(), "the io_uring ring is closed").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

bool NumberArg(const Napi::CallbackInfo& info, size_t i, double* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "expected a number argument").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().DoubleValue();
  return true;
}

bool PathArg(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) {
    Napi::TypeError::New(info.Env(), "expected a path string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) {
    Napi::TypeError::New(info.Env(), "path must not contain NUL bytes").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace

// readFile(id, path)
Napi::Value Ring::ReadFile(const Napi::CallbackInfo& info) {
  double id;
  std::string path;
  if (!Usable(info, ring_fd_) || !NumberArg(info, 0, &id) || !PathArg(info, 1, &path)) return info.Env().Undefined();
  auto* r = new Request();
  r->id = id;
  r->kind = Kind::kReadFile;
  r->step = Step::kStatxPath;
  r->path = std::move(path);
  r->flags = O_RDONLY | O_CLOEXEC;
  live_.insert(r);
  Queue(r);
  return info.Env().Undefined();
}

// open(id, path, flags, mode)
Napi::Value Ring::Open(const Napi::CallbackInfo& info) {
  double id, flags, mode;
  std::string path;
  if (!Usable(info, ring_fd_) || !NumberArg(info, 0, &id) || !PathArg(info, 1, &path) || !NumberArg(info, 2, &flags) ||
      !NumberArg(info, 3, &mode)) {
    return info.Env().Undefined();
  }
  auto* r = new Request();
  r->id = id;
  r->kind = Kind::kOpen;
  r->step = Step::kStatxPath;
  r->path = std::move(path);
  r->flags = static_cast<int>(flags) | O_CLOEXEC;
  r->mode = static_cast<unsigned>(mode);
  live_.insert(r);
  Queue(r);
  return info.Env().Undefined();
}

// read(id, fd, length, position); position -1 reads at the file position.
Napi::Value Ring::Read(const Napi::CallbackInfo& info) {
  double id, fd, length, position;
  if (!Usable(info, ring_fd_) || !NumberArg(info, 0, &id) || !NumberArg(info, 1, &fd) || !NumberArg(info, 2, &length) ||
      !NumberArg(info, 3, &position)) {
    return info.Env().Undefined();
  }
  if (fd < 0 || fd > 0x7fffffff || length < 0 || length > static_cast<double>(kMaxFile)) {
    Napi::RangeError::New(info.Env(), "fd or length out of range").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto* r = new Request();
  r->id = id;
  r->kind = Kind::kRead;
  r->step = Step::kStatxFd;
  r->fd = static_cast<int>(fd);
  r->cap = static_cast<size_t>(length);
  r->buf.reset(new uint8_t[r->cap > 0 ? r->cap : 1]);
  r->position = static_cast<int64_t>(position);
  live_.insert(r);
  Queue(r);
  return info.Env().Undefined();
}

// write(id, fd, bytes, position); the bytes are copied, so the caller's buffer is free at once.
Napi::Value Ring::Write(const Napi::CallbackInfo& info) {
  double id, fd, position;
  if (!Usable(info, ring_fd_) || !NumberArg(info, 0, &id) || !NumberArg(info, 1, &fd) || !NumberArg(info, 3, &position)) {
    return info.Env().Undefined();
  }
  if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(info.Env(), "expected a Uint8Array").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (fd < 0 || fd > 0x7fffffff) {
    Napi::RangeError::New(info.Env(), "fd out of range").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto bytes = info[2].As<Napi::Uint8Array>();
  auto* r = new Request();
  r->id = id;
  r->kind = Kind::kWrite;
  r->step = Step::kStatxFd;
  r->fd = static_cast<int>(fd);
  r->len = bytes.ByteLength();
  r->cap = r->len;
  r->buf.reset(new uint8_t[r->len > 0 ? r->len : 1]);
  if (r->len > 0) std::memcpy(r->buf.get(), bytes.Data(), r->len);
  r->position = static_cast<int64_t>(position);
  live_.insert(r);
  Queue(r);
  return info.Env().Undefined();
}

// closeFd(id, fd)
Napi::Value Ring::CloseFd(const Napi::CallbackInfo& info) {
  double id, fd;
  if (!Usable(info, ring_fd_) || !NumberArg(info, 0, &id) || !NumberArg(info, 1, &fd)) return info.Env().Undefined();
  if (fd < 0 || fd > 0x7fffffff) {
    Napi::RangeError::New(info.Env(), "fd out of range").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto* r = new Request();
  r->id = id;
  r->kind = Kind::kClose;
  r->step = Step::kClose;
  r->fd = static_cast<int>(fd);
  live_.insert(r);
  Queue(r);
  return info.Env().Undefined();
}

// submit(): hand every queued step to the kernel. Returns the number submitted or -errno.
Napi::Value Ring::Submit(const Napi::CallbackInfo& info) {
  if (!Usable(info, ring_fd_)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), Flush());
}

// reap(): harvest completions, advance multi-step requests (submitting their next steps), and return the finished
// ones as [id, result, failedSyscall, pollableType, bytes?] arrays. Result is >= 0 (fd, byte count) or -errno.
Napi::Value Ring::Reap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(info, ring_fd_)) return env.Undefined();
  uint64_t counter;
  // Drain the eventfd; EAGAIN just means another reap already did.
  (void)!read(event_fd_, &counter, sizeof(counter));
  int flush_error = 0;
  for (int round = 0; round < kMaxRounds; round++) {
    unsigned head = *cq_head_;
    const unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    if (head == tail) {
      if (backlog_.empty() || in_kernel_ >= cq_entries_) break;
    }
    for (; head != tail; head++) {
      const io_uring_cqe& cqe = cqes_[head & cq_mask_];
      auto* r = reinterpret_cast<Request*>(cqe.user_data);
      in_kernel_--;
      if (Advance(r, cqe.res)) done_.push_back(r);
      else Queue(r);
    }
    __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
    const int rc = Flush();
    if (rc < 0) {
      flush_error = rc;
      break;
    }
  }
  Napi::Array out = Napi::Array::New(env, done_.size() + (flush_error < 0 ? 1 : 0));
  uint32_t i = 0;
  while (!done_.empty()) {
    Request* r = done_.front();
    done_.pop_front();
    Napi::Array item = Napi::Array::New(env, 5);
    item.Set(0u, Napi::Number::New(env, r->id));
    item.Set(1u, Napi::Number::New(env, static_cast<double>(r->result)));
    item.Set(2u, Napi::Number::New(env, r->failed));
    item.Set(3u, Napi::Number::New(env, r->pollable));
    if (r->result >= 0 && (r->kind == Kind::kReadFile || r->kind == Kind::kRead)) {
      item.Set(4u, Napi::Buffer<uint8_t>::Copy(env, r->buf.get(), r->len));
    }
    out.Set(i++, item);
    live_.erase(r);
    delete r;
  }
  if (flush_error < 0) {
    // A failed io_uring_enter: reported as a pseudo-completion with id -1, so the wrapper can fail over.
    Napi::Array item = Napi::Array::New(env, 4);
    item.Set(0u, Napi::Number::New(env, -1));
    item.Set(1u, Napi::Number::New(env, flush_error));
    item.Set(2u, Napi::Number::New(env, 0));
    item.Set(3u, Napi::Number::New(env, 0));
    out.Set(i++, item);
  }
  return out;
}

Napi::Value Ring::Destroy(const Napi::CallbackInfo& info) {
  if (hook_added_) napi_remove_env_cleanup_hook(env_, &Ring::CleanupHook, this);
  hook_added_ = false;
  Teardown();
  return info.Env().Undefined();
}

void Ring::Teardown() {
  bool kernel_released = true;
  if (ring_fd_ >= 0 && sqes_ != nullptr && in_kernel_ > 0) {
    // Cancel everything in flight, then wait until the kernel has completed or cancelled each request: only then
    // may their buffers be freed. Regular-file operations finish promptly; pollable files are never submitted.
    backlog_.clear();
    io_uring_sqe* sqe = NextSqe();
    if (sqe == nullptr) {
      __atomic_store_n(sq_tail_, local_tail_, __ATOMIC_RELEASE);
      SysEnter(ring_fd_, to_submit_, 0, 0);
      to_submit_ = 0;
      sqe = NextSqe();
    }
    if (sqe != nullptr) {
      sqe->opcode = IORING_OP_ASYNC_CANCEL;
      sqe->fd = -1;
      sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY;
      sqe->user_data = 0;
    }
    __atomic_store_n(sq_tail_, local_tail_, __ATOMIC_RELEASE);
    bool submitted = to_submit_ == 0;
    while (in_kernel_ > 0) {
      unsigned head = *cq_head_;
      const unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
      for (; head != tail; head++) {
        const io_uring_cqe& cqe = cqes_[head & cq_mask_];
        if (cqe.user_data == 0) continue;
        auto* r = reinterpret_cast<Request*>(cqe.user_data);
        in_kernel_--;
        // An open that completed hands us a descriptor nobody will ever see: close it.
        if (r->step == Step::kOpenat && cqe.res >= 0) close(cqe.res);
        if (r->kind == Kind::kReadFile && r->fd >= 0 && r->step != Step::kClose) close(r->fd);
        live_.erase(r);
        delete r;
      }
      __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
      if (in_kernel_ == 0) break;
      const int rc = SysEnter(ring_fd_, submitted ? 0 : to_submit_, 1, IORING_ENTER_GETEVENTS);
      if (rc < 0 && errno != EINTR) {
        kernel_released = false;
        break;
      }
      if (rc >= 0 && !submitted) {
        to_submit_ = 0;
        submitted = true;
      }
    }
  }
  // Requests the kernel no longer holds can be freed; if waiting failed, the rest are leaked on purpose.
  for (Request* r : backlog_) {
    if (r->kind == Kind::kReadFile && r->fd >= 0) close(r->fd);
    live_.erase(r);
    delete r;
  }
  backlog_.clear();
  for (Request* r : done_) {
    live_.erase(r);
    delete r;
  }
  done_.clear();
  if (kernel_released) {
    for (Request* r : live_) delete r;
    live_.clear();
  }
  if (sqes_ != nullptr) munmap(sqes_, sqes_size_);
  if (cq_ptr_ != nullptr && cq_ptr_ != sq_ptr_) munmap(cq_ptr_, cq_size_);
  if (sq_ptr_ != nullptr) munmap(sq_ptr_, sq_size_);
  sqes_ = nullptr;
  cq_ptr_ = nullptr;
  sq_ptr_ = nullptr;
  if (ring_fd_ >= 0) close(ring_fd_);
  if (event_fd_ >= 0) close(event_fd_);
  ring_fd_ = -1;
  event_fd_ = -1;
}

Napi::Object CreateUring(Napi::Env env) {
  Napi::Object ns = Napi::Object::New(env);
  ns.Set("Ring", Ring::Define(env));
  return ns;
}

}  // namespace fdloop::uring
