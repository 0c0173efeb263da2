// The IOCP poller: one I/O completion port per runtime, a poller thread blocking on GetQueuedCompletionStatusEx,
// and a thread-safe function that hands each harvested batch to the JS thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "registry.h"
#include "win.h"

namespace fdloop_iocp {

struct Core;

/**
 * The JS-visible poller. It only forwards to a Core: the Core outlives the wrapper until the thread-safe function
 * is finalized, because a queued hand-off may still name it.
 */
class Poller : public Napi::ObjectWrap<Poller> {
 public:
  /** The constructor; `registry` (the environment's poller list) is its callback data. */
  static Napi::Function Define(Napi::Env env, Registry* registry);
  explicit Poller(const Napi::CallbackInfo& info);
  ~Poller() override;

  /** Called by the Core when it closes by itself (environment teardown): the wrapper forgets it. */
  void Detach() { core_ = nullptr; }

 private:
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Mod(const Napi::CallbackInfo& info);
  Napi::Value Del(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Post(const Napi::CallbackInfo& info);
  Napi::Value PostSource(const Napi::CallbackInfo& info);
  Napi::Value Port(const Napi::CallbackInfo& info);
  Napi::Value DirAdd(const Napi::CallbackInfo& info);
  Napi::Value DirRemove(const Napi::CallbackInfo& info);
  Napi::Value DirTake(const Napi::CallbackInfo& info);
  Napi::Value TimerCreate(const Napi::CallbackInfo& info);
  Napi::Value TimerSet(const Napi::CallbackInfo& info);
  Napi::Value TimerClose(const Napi::CallbackInfo& info);
  Napi::Value ProcOpen(const Napi::CallbackInfo& info);
  Napi::Value ProcExitCode(const Napi::CallbackInfo& info);
  Napi::Value ProcClose(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void Ref(const Napi::CallbackInfo& info);
  void Unref(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  Core* core_ = nullptr;
};

}  // namespace fdloop_iocp
