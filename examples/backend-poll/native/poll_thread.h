// The part of the poll backend that knows nothing about Node: a set of registrations, a thread blocked in poll(2)
// over them plus a wake-up pipe, and the hand-off of each poll(2) result to the thread that owns the runtime.
//
// Hand-off protocol (one batch in flight at a time):
//
//   poll thread                                  JS thread
//   -----------                                  ---------
//   snapshot the set, poll(2) (blocks)
//   store ready fds, pending = true,
//   notify()  (uv_async_send)  ───────────────▶  Take(): move the ready records out
//   wait until !pending                          Resolve(): records → (token, flags) pairs, dropping stale ones
//                                                onEvents(count) …
//             ◀───────────────────────────────── Consumed(): pending = false, wake the poll thread
//   snapshot again (if the set changed), poll(2)
//
// Waiting for Consumed() is what keeps a level-triggered descriptor from spinning the poll thread and flooding
// the JS thread: a descriptor that stays readable is reported once per JS turn, as with epoll.
//
// Registration changes (Add/Modify/Remove) come from the JS thread at any time. They update the set under the
// mutex and write one byte into the wake-up pipe if the poll thread is inside poll(2), so it polls again with the
// new set. Every registration carries a serial number; a ready record harvested under an older serial (the fd was
// deregistered or re-registered since) is dropped by Resolve(), so after Remove() or Modify() returns, no event
// of the old registration is delivered.
#pragma once

#include <poll.h>
#include <pthread.h>

// POLLRDHUP is used on Linux (and Android) only, exactly where POLL_CAPABILITIES (src/index.ts) declares
// readHangup; other systems that have the bit (recent FreeBSD) are left out so the two stay in step.
#if defined(__linux__)
#ifndef POLLRDHUP
#error "POLLRDHUP is missing: compile with _GNU_SOURCE (CMakeLists.txt defines it on Linux)"
#endif
#define FDLOOP_POLLRDHUP POLLRDHUP
#endif

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace fdloop::pollbackend {

// One descriptor poll(2) found ready, as harvested by the poll thread.
struct ReadyRecord {
  int fd;
  short revents;
  uint64_t serial;
};

class PollThread {
 public:
  // Called on the poll thread, with the internal mutex held, when a batch (or a failure) is ready for Take(). It
  // must be thread-safe and must not call back into this object (uv_async_send qualifies).
  using Notify = void (*)(void* arg);

  PollThread(Notify notify, void* arg) : notify_(notify), notify_arg_(arg) {}
  ~PollThread() { Stop(); }
  PollThread(const PollThread&) = delete;
  PollThread& operator=(const PollThread&) = delete;

  // Creates the wake-up pipe and starts the thread (named `name` where the platform supports it). Returns 0 or
  // -errno. Call once.
  int Start(const char* name);

  // Stops and joins the thread and closes the wake-up pipe. Idempotent. After it returns, Notify is never called
  // again. Called on the JS thread.
  void Stop();

  // Registration changes, on the JS thread. `interest` holds only condition bits (READABLE, WRITABLE, PRIORITY).
  // Return 0 or -errno: -EBADF for a closed descriptor, -EEXIST (Add) if already registered, -ENOENT (Modify,
  // Remove) if not registered, -EINVAL for the wake-up pipe's own descriptors.
  int Add(int fd, double token, int interest);
  int Modify(int fd, double token, int interest);
  // Also succeeds for a registered descriptor that has been closed meanwhile. Returns only once the poll thread no
  // longer holds the descriptor inside poll(2), so the caller may close it and the file really closes.
  int Remove(int fd);

  // Delivery side, on the JS thread, called from the notification. Returns false if no harvest is pending.
  // Otherwise swaps the harvested records into `out` (its previous content is discarded), sets *error to 0 or to
  // the -errno poll(2) failed with, and returns true; Consumed() must follow.
  bool Take(std::vector<ReadyRecord>* out, int* error);
  // Writes (token, flags) pairs for records[*pos…] into `pairs`, at most `capacity` of them, skipping records
  // whose registration has been removed or replaced since they were harvested. Advances *pos past every record it
  // looked at. Returns the number of pairs written.
  uint32_t Resolve(const std::vector<ReadyRecord>& records, size_t* pos, double* pairs, uint32_t capacity);
  // The batch has been consumed: the poll thread may poll again. `buffer` is handed back so that its capacity is
  // reused for the next harvest.
  void Consumed(std::vector<ReadyRecord>&& buffer);
  // Stop polling for good after a failure reported to JS (the thread idles until Stop()).
  void Fail();

  // Whether READABLE also asks for POLLRDHUP, reported as READ_HANGUP (Linux only).
  static constexpr bool kHasReadHangup =
#ifdef FDLOOP_POLLRDHUP
      true;
#else
      false;
#endif

 private:
  struct Registration {
    double token;
    short events;
    uint64_t serial;
  };

  static void* ThreadMain(void* self);
  void Run();
  // Wakes the poll thread if it is inside poll(2). Requires mu_.
  void PokeLocked();
  // Reads the wake-up pipe until it is empty. Requires mu_.
  void DrainLocked();
  int CheckOpen(int fd) const;

  const Notify notify_;
  void* const notify_arg_;

  std::mutex mu_;
  // Signals the poll thread: a batch was consumed, or it must stop.
  std::condition_variable work_cv_;
  // Signals Remove(): the poll thread returned from poll(2).
  std::condition_variable idle_cv_;

  // Everything below is guarded by mu_.
  std::unordered_map<int, Registration> registrations_;
  uint64_t next_serial_ = 1;
  // The set changed since the poll thread's last snapshot.
  bool dirty_ = true;
  // The poll thread is inside poll(2) (or about to enter it with the current snapshot).
  bool polling_ = false;
  // Completed poll(2) calls, so Remove() can wait for the one in progress to return.
  uint64_t rounds_ = 0;
  // A byte is in the wake-up pipe that the poll thread has not drained yet.
  bool poked_ = false;
  // A harvest is waiting for Take()/Consumed().
  bool pending_ = false;
  bool stop_ = false;
  bool failed_ = false;
  int error_ = 0;
  std::vector<ReadyRecord> ready_;

  // Written only by Start() and Stop() on the JS thread.
  bool started_ = false;
  pthread_t thread_{};
  char name_[16] = {};
  int wake_read_ = -1;
  int wake_write_ = -1;
};

}  // namespace fdloop::pollbackend
