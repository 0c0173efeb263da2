#include "sources/attribute_relay.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "fdloop/args.h"
#include "fdloop/posix/syscall.h"

namespace fdloop::sources {

namespace {

using posix::CloseFd;
using posix::Syscall;

// Everything the thread touches, owned by the relay object and freed only after the thread is joined.
struct RelayState {
  int attr_fd = -1;   // the attribute file (borrowed: the JS side owns and closes it after close())
  int notify_fd = -1; // eventfd the runtime watches: "the attribute changed"
  int ack_fd = -1;    // eventfd written by ack(): "re-read done, poll again"
  int stop_fd = -1;   // eventfd written by close(): "exit"
};

void Signal(int fd) {
  const uint64_t one = 1;
  (void)Syscall([&] { return write(fd, &one, sizeof(one)); });
}

void Drain(int fd) {
  uint64_t value = 0;
  (void)Syscall([&] { return read(fd, &value, sizeof(value)); });
}

void* Run(void* arg) {
  auto* s = static_cast<RelayState*>(arg);
  // This thread must not take signals meant for the process (see signal_mask.h); it only polls.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    pollfd fds[2] = {{s->attr_fd, POLLPRI | POLLERR, 0}, {s->stop_fd, POLLIN, 0}};
    const int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN) != 0) return nullptr;
    if ((fds[0].revents & (POLLPRI | POLLERR | POLLNVAL)) == 0) continue;
    Signal(s->notify_fd);
    if ((fds[0].revents & POLLNVAL) != 0) return nullptr;
    // Wait for the acknowledgement (or stop) before looking at the file again.
    pollfd wait[2] = {{s->ack_fd, POLLIN, 0}, {s->stop_fd, POLLIN, 0}};
    for (;;) {
      const int m = poll(wait, 2, -1);
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 || (wait[1].revents & POLLIN) != 0) return nullptr;
      break;
    }
    Drain(s->ack_fd);
  }
}

class AttributeRelay : public Napi::ObjectWrap<AttributeRelay> {
 public:
  explicit AttributeRelay(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AttributeRelay>(info) {
    Napi::Env env = info.Env();
    int attr = -1;
    if (!FdArg(info, 0, &attr)) return;
    state_ = new RelayState();
    state_->attr_fd = attr;
    state_->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    state_->ack_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    state_->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int err = 0;
    if (state_->notify_fd < 0 || state_->ack_fd < 0 || state_->stop_fd < 0) {
      err = errno;
    } else {
      err = pthread_create(&thread_, nullptr, Run, state_);
      running_ = err == 0;
    }
    if (err != 0) {
      Release();
      Napi::Error error = Napi::Error::New(env, "attribute relay failed with errno " + std::to_string(err));
      error.Set("errno", Napi::Number::New(env, -err));
      error.Set("syscall", Napi::String::New(env, "pthread_create"));
      error.ThrowAsJavaScriptException();
    }
  }

  ~AttributeRelay() override { Release(); }

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AttributeRelay",
                       {InstanceAccessor<&AttributeRelay::Fd>("fd"), InstanceMethod<&AttributeRelay::Ack>("ack"),
                        InstanceMethod<&AttributeRelay::Close>("close")});
  }

 private:
  // Stops and joins the thread, then closes the eventfds. The join is short: the thread only ever waits in poll()
  // on descriptors that include stop_fd.
  void Release() {
    if (state_ == nullptr) return;
    if (running_) {
      Signal(state_->stop_fd);
      pthread_join(thread_, nullptr);
      running_ = false;
    }
    for (int fd : {state_->notify_fd, state_->ack_fd, state_->stop_fd}) {
      if (fd >= 0) (void)CloseFd(fd);
    }
    delete state_;
    state_ = nullptr;
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_ == nullptr ? -1 : state_->notify_fd);
  }

  Napi::Value Ack(const Napi::CallbackInfo& info) {
    if (state_ != nullptr) {
      Drain(state_->notify_fd);
      Signal(state_->ack_fd);
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  RelayState* state_ = nullptr;
  pthread_t thread_{};
  bool running_ = false;
};

}  // namespace

Napi::Function DefineAttributeRelay(Napi::Env env) { return AttributeRelay::Define(env); }

}  // namespace fdloop::sources
