// The JS class side of a poller: Napi::ObjectWrap plus the members every backend shares (`events`, `ref()`,
// `unref()`, `close()`), forwarding to PollerBase. A backend derives as
//   class KqueuePoller : public PollerWrap<KqueuePoller> { ... };
// and adds its own registration methods in Define().
#pragma once

#include <napi.h>

#include <vector>

#include "fdloop/posix/poller_base.h"

namespace fdloop::posix {

template <typename Derived>
class PollerWrap : public Napi::ObjectWrap<Derived>, public PollerBase {
 public:
  using Properties = std::vector<Napi::ClassPropertyDescriptor<Derived>>;

 protected:
  explicit PollerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {}

  // Defines the JS class `name` with the shared members followed by the backend's own `properties`.
  static Napi::Function DefinePollerClass(Napi::Env env, const char* name, Properties properties) {
    using Wrap = Napi::ObjectWrap<Derived>;
    // PollerWrap is Derived's only direct base, at offset 0, so these member pointers need no `this` adjustment.
    using Member = Napi::Value (Derived::*)(const Napi::CallbackInfo&);
    properties.push_back(
        Wrap::InstanceAccessor("events", static_cast<Member>(&PollerWrap::JsEvents), nullptr, napi_enumerable));
    properties.push_back(Wrap::InstanceMethod("ref", static_cast<Member>(&PollerWrap::JsRef)));
    properties.push_back(Wrap::InstanceMethod("unref", static_cast<Member>(&PollerWrap::JsUnref)));
    properties.push_back(Wrap::InstanceMethod("close", static_cast<Member>(&PollerWrap::JsClose)));
    return Wrap::DefineClass(env, name, properties);
  }

 private:
  Napi::Value JsEvents(const Napi::CallbackInfo& info) { return EventsValue(info.Env()); }

  Napi::Value JsRef(const Napi::CallbackInfo& info) {
    KeepLoopAlive(true);
    return info.Env().Undefined();
  }

  Napi::Value JsUnref(const Napi::CallbackInfo& info) {
    KeepLoopAlive(false);
    return info.Env().Undefined();
  }

  Napi::Value JsClose(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }
};

}  // namespace fdloop::posix
