#include "poll_thread.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "fdloop/contract.h"

namespace fdloop::pollbackend {

namespace {

// The Interest and Ready numbers are fdloop/contract.h's. Mode bits (EDGE, ONESHOT) never reach this file: the
// TypeScript layer refuses them, because poll(2) has neither (the runtime emulates ONESHOT).

// The poll thread needs little stack: its buffers are on the heap.
constexpr size_t kStackSize = 256 * 1024;

short ToPollEvents(int interest) {
  short events = 0;
  if (interest & kInterestReadable) {
    events |= POLLIN;
#ifdef FDLOOP_POLLRDHUP
    // As epoll's backend asks for EPOLLRDHUP: a peer's shutdown(SHUT_WR) is reported as READ_HANGUP, separately
    // from a full HANGUP.
    events |= FDLOOP_POLLRDHUP;
#endif
  }
  if (interest & kInterestWritable) events |= POLLOUT;
  if (interest & kInterestPriority) events |= POLLPRI;
  return events;
}

double ToReadyFlags(short revents) {
  uint32_t ready = 0;
  if (revents & POLLIN) ready |= kReadyReadable;
  if (revents & POLLOUT) ready |= kReadyWritable;
  if (revents & POLLPRI) ready |= kReadyPriority;
#ifdef FDLOOP_POLLRDHUP
  if (revents & FDLOOP_POLLRDHUP) ready |= kReadyReadHangup;
#endif
  if (revents & POLLHUP) ready |= kReadyHangup;
  // POLLNVAL: the registered number is not an open descriptor any more (it was closed while registered). There is
  // no Ready bit for it; ERROR tells the watcher to look, and the next operation on the fd reports EBADF.
  if (revents & (POLLERR | POLLNVAL)) ready |= kReadyError;
  return static_cast<double>(ready);
}

// A non-blocking, close-on-exec pipe. Returns 0 or -errno.
int MakeWakePipe(int fds[2]) {
#if defined(__linux__)
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -errno;
  return 0;
#else
  // No pipe2 (macOS): the flags are set afterwards. Racy against a concurrent fork+exec in another thread, which
  // only risks leaking the pipe into that child.
  if (pipe(fds) != 0) return -errno;
  for (int i = 0; i < 2; ++i) {
    const int flags = fcntl(fds[i], F_GETFL);
    if (flags < 0 || fcntl(fds[i], F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
      const int err = errno;
      close(fds[0]);
      close(fds[1]);
      return -err;
    }
  }
  return 0;
#endif
}

void CloseFd(int* fd) {
  if (*fd >= 0) {
    // Not retried on EINTR: the descriptor is released either way.
    (void)close(*fd);
    *fd = -1;
  }
}

}  // namespace

int PollThread::Start(const char* name) {
  int fds[2] = {-1, -1};
  if (const int rc = MakeWakePipe(fds); rc < 0) return rc;
  wake_read_ = fds[0];
  wake_write_ = fds[1];
  std::strncpy(name_, name, sizeof(name_) - 1);
  name_[sizeof(name_) - 1] = '\0';

  pthread_attr_t attr;
  if (const int rc = pthread_attr_init(&attr); rc != 0) return -rc;
  // Ignored on purpose: if the size is refused, the default (larger) stack is just as correct.
  (void)pthread_attr_setstacksize(&attr, std::max<size_t>(kStackSize, PTHREAD_STACK_MIN));
  // The thread blocks every signal: process signals (SIGINT, SIGCHLD, SIGWINCH…) go to Node's threads, whose
  // handlers expect them, and poll(2) is not interrupted by them. The mask is inherited at creation, so it is set
  // around pthread_create rather than inside the thread (where a signal could land before it took effect).
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  const int rc = pthread_create(&thread_, &attr, ThreadMain, this);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) return -rc;
  started_ = true;
  return 0;
}

void PollThread::Stop() {
  if (started_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      // Unconditionally: the thread may be inside poll(2) with an earlier byte already drained.
      (void)!write(wake_write_, "s", 1);
      poked_ = true;
      work_cv_.notify_all();
    }
    // Prompt: the thread is in poll(2) (woken by the byte), waiting on work_cv_ (notified), or between the two
    // (it checks stop_ under the mutex before it blocks again).
    pthread_join(thread_, nullptr);
    started_ = false;
  }
  CloseFd(&wake_read_);
  CloseFd(&wake_write_);
}

int PollThread::CheckOpen(int fd) const {
  // F_GETFD on a number that is not an open descriptor fails with EBADF: poll(2) itself would accept it and
  // report POLLNVAL forever, so this is what makes register() behave like epoll_ctl.
  for (;;) {
    if (fcntl(fd, F_GETFD) >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

int PollThread::Add(int fd, double token, int interest) {
  if (fd == wake_read_ || fd == wake_write_) return -EINVAL;
  if (const int rc = CheckOpen(fd); rc < 0) return rc;
  std::lock_guard<std::mutex> lock(mu_);
  if (registrations_.count(fd) != 0) return -EEXIST;
  registrations_.emplace(fd, Registration{token, ToPollEvents(interest), next_serial_++});
  dirty_ = true;
  PokeLocked();
  return 0;
}

int PollThread::Modify(int fd, double token, int interest) {
  if (const int rc = CheckOpen(fd); rc < 0) return rc;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) return -ENOENT;
  // A new serial even when only the token changed: records harvested under the old one are dropped, so no event
  // ever carries the old token after this returns.
  it->second = Registration{token, ToPollEvents(interest), next_serial_++};
  dirty_ = true;
  PokeLocked();
  return 0;
}

int PollThread::Remove(int fd) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) return -ENOENT;
  registrations_.erase(it);
  dirty_ = true;
  if (polling_) {
    // poll(2) holds a reference to every file in its set until it returns. Wait for that, so a close() right
    // after deregister() really closes the file (a pipe's writer gets EPIPE, a socket sends its FIN) instead of
    // a moment later. Never waits while a batch is being delivered: the thread is not polling then.
    const uint64_t round = rounds_;
    PokeLocked();
    idle_cv_.wait(lock, [&] { return rounds_ != round || stop_; });
  }
  return 0;
}

bool PollThread::Take(std::vector<ReadyRecord>* out, int* error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_) return false;
  out->clear();
  out->swap(ready_);
  *error = error_;
  error_ = 0;
  return true;
}

uint32_t PollThread::Resolve(const std::vector<ReadyRecord>& records, size_t* pos, double* pairs,
                             uint32_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t count = 0;
  while (*pos < records.size() && count < capacity) {
    const ReadyRecord& record = records[(*pos)++];
    auto it = registrations_.find(record.fd);
    // Deregistered, or re-registered with another interest or token, since poll(2) saw it.
    if (it == registrations_.end() || it->second.serial != record.serial) continue;
    pairs[2 * count] = it->second.token;
    pairs[2 * count + 1] = ToReadyFlags(record.revents);
    ++count;
  }
  return count;
}

void PollThread::Consumed(std::vector<ReadyRecord>&& buffer) {
  std::lock_guard<std::mutex> lock(mu_);
  buffer.clear();
  ready_.swap(buffer);
  pending_ = false;
  work_cv_.notify_one();
}

void PollThread::Fail() {
  std::lock_guard<std::mutex> lock(mu_);
  failed_ = true;
}

void PollThread::PokeLocked() {
  if (!polling_ || poked_) return;
  poked_ = true;
  // A full pipe (impossible: at most one byte is in it at a time) or any other failure would only delay the
  // re-poll; there is no one to report it to.
  (void)!write(wake_write_, "w", 1);
}

void PollThread::DrainLocked() {
  char buffer[64];
  for (;;) {
    const ssize_t n = read(wake_read_, buffer, sizeof(buffer));
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  poked_ = false;
}

void* PollThread::ThreadMain(void* self) {
  auto* thread = static_cast<PollThread*>(self);
#if defined(__linux__)
  (void)pthread_setname_np(pthread_self(), thread->name_);
#elif defined(__APPLE__)
  (void)pthread_setname_np(thread->name_);
#endif
  thread->Run();
  return nullptr;
}

void PollThread::Run() {
  // The poll set: slot 0 is the wake-up pipe, then one slot per registration, with the serial it was taken under.
  std::vector<pollfd> fds;
  std::vector<uint64_t> serials;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || (!pending_ && !failed_); });
    if (stop_) break;
    if (dirty_) {
      fds.clear();
      serials.clear();
      fds.push_back(pollfd{wake_read_, POLLIN, 0});
      serials.push_back(0);
      for (const auto& [fd, registration] : registrations_) {
        fds.push_back(pollfd{fd, registration.events, 0});
        serials.push_back(registration.serial);
      }
      dirty_ = false;
    }
    polling_ = true;
    lock.unlock();
    const int rc = poll(fds.data(), static_cast<nfds_t>(fds.size()), -1);
    const int err = rc < 0 ? errno : 0;
    lock.lock();
    polling_ = false;
    ++rounds_;
    idle_cv_.notify_all();
    if (stop_) break;
    if (rc < 0) {
      if (err == EINTR || err == EAGAIN) continue;
      // EINVAL (more descriptors than RLIMIT_NOFILE) or ENOMEM: report once, then idle until Stop().
      error_ = -err;
      failed_ = true;
      pending_ = true;
      notify_(notify_arg_);
      continue;
    }
    int remaining = rc;
    if (fds[0].revents != 0) {
      DrainLocked();
      --remaining;
    }
    for (size_t i = 1; i < fds.size() && remaining > 0; ++i) {
      if (fds[i].revents == 0) continue;
      ready_.push_back(ReadyRecord{fds[i].fd, fds[i].revents, serials[i]});
      --remaining;
    }
    if (!ready_.empty()) {
      pending_ = true;
      // Under the mutex: Stop() takes it before joining, so the notification (uv_async_send) always happens
      // before the handle can be closed.
      notify_(notify_arg_);
    }
  }
}

}  // namespace fdloop::pollbackend
