// The kqueue poller (macOS, FreeBSD): a PollerBase whose kernel descriptor is a kqueue.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kqueue/kevent.h"
#include "fdloop/posix/poller_wrap.h"

namespace fdloop::kqueue {

// JS: `new Poller(batchSize, onEvents, maxRounds?)` with `add(fd, token, interest)`, `mod(fd, token, interest)`,
// `del(fd)` (each returning 0 or -errno) plus the shared members of PollerWrap (`events`, `ref()`, `unref()`,
// `close()`).
//
// One contract registration becomes up to three knotes on the descriptor (EVFILT_READ, EVFILT_WRITE and, where the
// platform has it, EVFILT_EXCEPT/NOTE_OOB), all carrying the token in udata. kqueue silently updates an existing
// knote where epoll refuses a duplicate, and it reports each filter separately, so the poller keeps a small table
// of its registrations (per poller, not global) to give the contract's EEXIST/ENOENT answers and to merge the
// filters of one descriptor into one (token, flags) pair per batch.
//
// Event sources (timers, signals, notifiers, path watches, process exits) are knotes of other filters, added with
// `srcAdd(filter, ident, flags, fflags, data, token)`. The harvest accumulates what their kevents carry (timer
// expirations and signal counts summed, fflags OR-ed, the last data otherwise) and reports the source's token as
// READABLE, once per batch, unless the source is paused; `srcRead(filter, ident, out)` hands the accumulated values
// to JS and clears them. A source resumed with something pending is re-reported through an internal EVFILT_USER
// knote (ident 0), the poller's "doorbell", which makes the kqueue readable.
class KqueuePoller : public posix::PollerWrap<KqueuePoller> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit KqueuePoller(const Napi::CallbackInfo& info);
  // Closes the descriptors opened for path watches and drops the signal subscriptions that are still open (the
  // runtime was not closed before the environment ended, e.g. a terminated worker).
  ~KqueuePoller() override;

  // Static helpers exported next to the class (they need no poller): see addon.cc.
  static Napi::Value UserTrigger(const Napi::CallbackInfo& info);
  static Napi::Object Constants(Napi::Env env);

 private:
  struct Source {
    uint64_t token = 0;
    bool paused = false;
    bool rereport = false;  // queued for the doorbell
    uint32_t stamp = 0;     // the harvest that last reported it
    double events = 0;      // kevents accumulated since the last srcRead
    double data = 0;        // summed (timer, signal) or last (others)
    uint32_t fflags = 0;    // OR-ed
    // Timers whose first expiration differs from their period are added EV_ONESHOT with the first delay; when that
    // fires, the harvest re-adds them periodic with this interval (in the unit of `rearm_fflags`).
    int64_t rearm_interval = 0;
    uint32_t rearm_fflags = 0;
  };

  static uint64_t SourceKey(int16_t filter, uintptr_t ident) {
    return (static_cast<uint64_t>(static_cast<uint16_t>(filter)) << 48) | (static_cast<uint64_t>(ident) & 0xffffffffffffull);
  }
  // Writes the pair of a source (if it is not paused and not yet in this batch). Returns false when the batch is full.
  bool EmitSource(Source& source, double* pairs, uint32_t capacity, int* count);

  void HarvestSource(const struct kevent& ev, double* pairs, uint32_t capacity, int* count);
  static bool SourceArgs(const Napi::CallbackInfo& info, int16_t* filter, uintptr_t* ident);
  Napi::Value SrcAdd(const Napi::CallbackInfo& info);
  Napi::Value SrcDel(const Napi::CallbackInfo& info);
  Napi::Value SrcRead(const Napi::CallbackInfo& info);
  Napi::Value SrcPause(const Napi::CallbackInfo& info);
  Napi::Value KernelFd(const Napi::CallbackInfo& info);
  Napi::Value VnodeOpen(const Napi::CallbackInfo& info);
  int RingDoorbell();

  struct Registration {
    uint64_t token = 0;
    int64_t interest = 0;
    // Harvest bookkeeping: the harvest that last reported this descriptor, where its pair is, and which filters
    // fired (kFired* bits).
    uint32_t stamp = 0;
    uint32_t index = 0;
    uint32_t fired = 0;
  };

  int Harvest(double* pairs, uint32_t capacity) override;

  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Mod(const Napi::CallbackInfo& info);
  Napi::Value Del(const Napi::CallbackInfo& info);
  // Parses (fd, token, interest); false with a JS exception pending.
  static bool ParseCtlArgs(const Napi::CallbackInfo& info, int* fd, uint64_t* token, int64_t* interest);

  // Submits `changes` (each with EV_RECEIPT) and returns 0 or the first failure as -errno.
  int Submit(std::vector<struct kevent>& changes);
  // Moves the kernel state of `fd` from `from` (interest, 0 for none) to `to` (0 to remove everything). On a
  // failure, tries to restore `from` and returns -errno.
  int Transition(int fd, int64_t from, uint64_t from_token, int64_t to, uint64_t to_token);

  std::unordered_map<int, Registration> registrations_;
  // kevent's output, batchSize entries, reused for every harvest.
  std::unique_ptr<struct kevent[]> kernel_events_;
  uint32_t harvest_stamp_ = 0;
  // Descriptors registered ONESHOT with several filters that fired during the current harvest (see Harvest).
  std::vector<int> oneshot_fired_;
  std::unordered_map<uint64_t, Source> sources_;
  bool doorbell_added_ = false;
  bool doorbell_rang_ = false;
  // Sources waiting for the doorbell (keys into sources_).
  std::vector<uint64_t> rereport_;
  // Descriptors this poller opened for EVFILT_VNODE (closed by srcDel, or by the destructor).
  std::unordered_set<int> vnode_fds_;
};

}  // namespace fdloop::kqueue
