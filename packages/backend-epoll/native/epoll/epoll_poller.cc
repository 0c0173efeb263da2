#include "epoll/epoll_poller.h"

#include <cerrno>
#include <cstdint>
#include <new>

#include "fdloop/args.h"
#include "fdloop/contract.h"
#include "fdloop/posix/syscall.h"

namespace fdloop::epoll {

namespace {

uint32_t ToEpollEvents(int64_t interest) {
  uint32_t events = 0;
  // EPOLLRDHUP comes with READABLE so a peer's shutdown(SHUT_WR) is reported as READ_HANGUP, separately from a
  // full HANGUP.
  if (interest & kInterestReadable) events |= EPOLLIN | EPOLLRDHUP;
  if (interest & kInterestWritable) events |= EPOLLOUT;
  if (interest & kInterestPriority) events |= EPOLLPRI;
  if (interest & kInterestEdge) events |= EPOLLET;
  if (interest & kInterestOneshot) events |= EPOLLONESHOT;
  return events;
}

double ToReadyFlags(uint32_t events) {
  uint32_t ready = 0;
  if (events & EPOLLIN) ready |= kReadyReadable;
  if (events & EPOLLOUT) ready |= kReadyWritable;
  if (events & EPOLLPRI) ready |= kReadyPriority;
  if (events & EPOLLRDHUP) ready |= kReadyReadHangup;
  if (events & EPOLLHUP) ready |= kReadyHangup;
  if (events & EPOLLERR) ready |= kReadyError;
  return static_cast<double>(ready);
}

}  // namespace

Napi::Function EpollPoller::Define(Napi::Env env) {
  return DefinePollerClass(env, "Poller",
                           {
                               InstanceMethod("add", &EpollPoller::Add),
                               InstanceMethod("mod", &EpollPoller::Mod),
                               InstanceMethod("del", &EpollPoller::Del),
                           });
}

EpollPoller::EpollPoller(const Napi::CallbackInfo& info) : PollerWrap(info) {
  Napi::Env env = info.Env();
  uint32_t batch_size = 0;
  uint32_t max_rounds = 0;
  if (!ParseArgs(info, &batch_size, &max_rounds)) return;

  kernel_events_.reset(new (std::nothrow) epoll_event[batch_size]);
  if (!kernel_events_) {
    ThrowErrno(env, -ENOMEM, "malloc");
    return;
  }
  const int epfd = posix::Syscall([] { return epoll_create1(EPOLL_CLOEXEC); });
  if (epfd < 0) {
    ThrowErrno(env, epfd, "epoll_create1");
    return;
  }
  // On failure an exception is pending; node-addon-api then deletes this object, and the destructor releases
  // whatever Open had set up, including epfd.
  Open(info, epfd, batch_size, max_rounds);
}

int EpollPoller::Harvest(double* pairs, uint32_t capacity) {
  epoll_event* events = kernel_events_.get();
  const int count = posix::Syscall([&] { return epoll_wait(kernel_fd(), events, static_cast<int>(capacity), 0); });
  for (int i = 0; i < count; ++i) {
    pairs[2 * i] = static_cast<double>(events[i].data.u64);
    pairs[2 * i + 1] = ToReadyFlags(events[i].events);
  }
  return count;
}

Napi::Value EpollPoller::Add(const Napi::CallbackInfo& info) { return Ctl(info, EPOLL_CTL_ADD); }
Napi::Value EpollPoller::Mod(const Napi::CallbackInfo& info) { return Ctl(info, EPOLL_CTL_MOD); }
Napi::Value EpollPoller::Del(const Napi::CallbackInfo& info) { return Ctl(info, EPOLL_CTL_DEL); }

Napi::Value EpollPoller::Ctl(const Napi::CallbackInfo& info, int op) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!FdArg(info, 0, &fd)) return Napi::Value();
  epoll_event event{};
  if (op != EPOLL_CTL_DEL) {
    int64_t token = 0;
    int64_t interest = 0;
    if (!IntegerArg(info, 1, "token", 0, kMaxToken, &token)) return Napi::Value();
    if (!IntegerArg(info, 2, "interest", 0, kInterestAll, &interest)) return Napi::Value();
    event.events = ToEpollEvents(interest);
    event.data.u64 = static_cast<uint64_t>(token);
  }
  if (kernel_fd() < 0) return Napi::Number::New(env, -EBADF);
  const int rc = posix::Syscall([&] { return epoll_ctl(kernel_fd(), op, fd, &event); });
  return Napi::Number::New(env, rc);
}

}  // namespace fdloop::epoll
