// A thin binding of libmosquitto's non-threaded client API: one `Client` object per `struct mosquitto`, with no
// thread of its own (mosquitto_loop_start is never called). JavaScript drives it through @fdloop/core's ownFd():
// loopRead() when the socket is readable, loopWrite() when it is writable and wantWrite() said so, loopMisc() on
// a timer. This file never blocks, never throws C++ exceptions, and never calls into JavaScript on its own:
// libmosquitto runs its callbacks only inside our own calls into it (there is no library thread), so each
// callback appends an event to a JS array that the TypeScript wrapper handed in, and the wrapper dispatches the
// events to user code after the native call has returned. User code therefore never runs inside libmosquitto,
// and can publish or destroy the client from any callback without re-entering the library.
//
// Results: every method that calls libmosquitto returns its MOSQ_ERR_* code; for MOSQ_ERR_ERRNO the errno is in
// state[1]; message ids are written to state[0]. The wrapper turns codes into typed errors.
//
// Process-wide state: mosquitto_lib_init() initialises the library for the whole process and is documented as
// not thread-safe, so it runs exactly once per process (std::call_once: a flag that is written once and never
// changes afterwards), whichever thread loads the addon first. mosquitto_lib_cleanup() is never called: it would
// tear the library down under clients of other threads, and on Linux it only frees what the process exit frees.
// Everything else belongs to one Client and is released by destroy(), by the finalizer, or by the environment
// cleanup hook when a worker thread ends.
#include <mosquitto.h>
#include <napi.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <mutex>
#include <string>

namespace {

enum EventType : int32_t {
  kConnect = 1,
  kDisconnect = 2,
  kMessage = 3,
  kPublish = 4,
  kSubscribe = 5,
  kUnsubscribe = 6,
};

std::once_flag lib_init_once;
int lib_init_rc = MOSQ_ERR_SUCCESS;

class Client : public Napi::ObjectWrap<Client> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Client",
                       {
                           InstanceMethod("connect", &Client::Connect),
                           InstanceMethod("reconnect", &Client::Reconnect),
                           InstanceMethod("disconnect", &Client::Disconnect),
                           InstanceMethod("subscribe", &Client::Subscribe),
                           InstanceMethod("unsubscribe", &Client::Unsubscribe),
                           InstanceMethod("publish", &Client::Publish),
                           InstanceMethod("loopRead", &Client::LoopRead),
                           InstanceMethod("loopWrite", &Client::LoopWrite),
                           InstanceMethod("loopMisc", &Client::LoopMisc),
                           InstanceMethod("socket", &Client::Socket),
                           InstanceMethod("wantWrite", &Client::WantWrite),
                           InstanceMethod("destroy", &Client::Destroy),
                       });
  }

  // new Client(clientId: string | null, cleanSession: boolean, events: unknown[], state: Int32Array(2))
  explicit Client(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Client>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[2].IsArray() || !info[3].IsTypedArray() ||
        info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[3].As<Napi::TypedArray>().ElementLength() < 2) {
      Napi::TypeError::New(env, "Client(clientId, cleanSession, events[], Int32Array(2))").ThrowAsJavaScriptException();
      return;
    }
    if (lib_init_rc != MOSQ_ERR_SUCCESS) {
      Napi::Error::New(env, std::string("mosquitto_lib_init failed: ") + mosquitto_strerror(lib_init_rc))
          .ThrowAsJavaScriptException();
      return;
    }
    std::string id;
    bool has_id = info[0].IsString();
    if (has_id) id = info[0].As<Napi::String>().Utf8Value();
    bool clean = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    events_ = Napi::Persistent(info[2].As<Napi::Array>());
    state_ref_ = Napi::Persistent(info[3].As<Napi::Int32Array>());
    state_ = info[3].As<Napi::Int32Array>().Data();
    errno = 0;
    mosq_ = mosquitto_new(has_id ? id.c_str() : nullptr, clean, this);
    if (mosq_ == nullptr) {
      int e = errno != 0 ? errno : ENOMEM;
      Napi::Error err = Napi::Error::New(env, std::string("mosquitto_new failed: ") + mosquitto_strerror(MOSQ_ERR_ERRNO));
      err.Set("errno", Napi::Number::New(env, -e));
      err.Set("syscall", Napi::String::New(env, "mosquitto_new"));
      err.ThrowAsJavaScriptException();
      return;
    }
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(mosq_, OnConnect);
    mosquitto_disconnect_callback_set(mosq_, OnDisconnect);
    mosquitto_message_callback_set(mosq_, OnMessage);
    mosquitto_publish_callback_set(mosq_, OnPublish);
    mosquitto_subscribe_callback_set(mosq_, OnSubscribe);
    mosquitto_unsubscribe_callback_set(mosq_, OnUnsubscribe);
    env_ = env;
    // A worker thread that ends with the client still open: free it (closing its socket) without touching JS.
    if (napi_add_env_cleanup_hook(env, OnEnvCleanup, this) == napi_ok) hook_added_ = true;
  }

  ~Client() override { Release(); }

 private:
  // ---- libmosquitto callbacks: only ever called from inside one of the methods below, on this thread.

  static Client* Self(void* obj) { return static_cast<Client*>(obj); }

  void Push(std::initializer_list<napi_value> values) {
    if (!collecting_) return;  // a callback during destroy or teardown: nobody will read it
    napi_env env = env_;
    napi_value array = events_.Value();
    uint32_t length = 0;
    if (napi_get_array_length(env, array, &length) != napi_ok) return;
    for (napi_value v : values) {
      if (napi_set_element(env, array, length++, v) != napi_ok) return;
    }
  }

  napi_value Int(int32_t v) { return Napi::Number::New(env_, v); }

  static void OnConnect(struct mosquitto*, void* obj, int rc) {
    Client* self = Self(obj);
    self->Push({self->Int(kConnect), self->Int(rc)});
  }

  static void OnDisconnect(struct mosquitto*, void* obj, int rc) {
    int e = errno;  // for MOSQ_ERR_ERRNO: the failing system call's errno, before anything else touches it
    Client* self = Self(obj);
    self->Push({self->Int(kDisconnect), self->Int(rc), self->Int(rc == MOSQ_ERR_ERRNO ? e : 0)});
  }

  static void OnMessage(struct mosquitto*, void* obj, const struct mosquitto_message* msg) {
    Client* self = Self(obj);
    napi_value topic = Napi::String::New(self->env_, msg->topic != nullptr ? msg->topic : "");
    napi_value payload = Napi::Buffer<uint8_t>::Copy(self->env_, static_cast<const uint8_t*>(msg->payload),
                                                     static_cast<size_t>(msg->payloadlen > 0 ? msg->payloadlen : 0));
    self->Push({self->Int(kMessage), self->Int(msg->mid), topic, payload, self->Int(msg->qos),
                Napi::Boolean::New(self->env_, msg->retain)});
  }

  static void OnPublish(struct mosquitto*, void* obj, int mid) {
    Client* self = Self(obj);
    self->Push({self->Int(kPublish), self->Int(mid)});
  }

  static void OnSubscribe(struct mosquitto*, void* obj, int mid, int count, const int* granted) {
    Client* self = Self(obj);
    Napi::Array qos = Napi::Array::New(self->env_, static_cast<size_t>(count));
    for (int i = 0; i < count; i++) qos.Set(static_cast<uint32_t>(i), self->Int(granted[i]));
    self->Push({self->Int(kSubscribe), self->Int(mid), qos});
  }

  static void OnUnsubscribe(struct mosquitto*, void* obj, int mid) {
    Client* self = Self(obj);
    self->Push({self->Int(kUnsubscribe), self->Int(mid)});
  }

  // ---- methods

  // Runs `call` with callbacks collecting into the events array of this call's environment; returns its code
  // and stores the errno of MOSQ_ERR_ERRNO in state[1].
  template <typename F>
  Napi::Value Call(const Napi::CallbackInfo& info, F call) {
    if (mosq_ == nullptr) return Napi::Number::New(info.Env(), MOSQ_ERR_INVAL);
    env_ = info.Env();
    collecting_ = true;
    errno = 0;
    int rc = call();
    int e = errno;
    collecting_ = false;
    if (rc == MOSQ_ERR_CONN_PENDING) rc = MOSQ_ERR_SUCCESS;  // a non-blocking connect in progress
    state_[1] = rc == MOSQ_ERR_ERRNO ? e : 0;
    return Napi::Number::New(info.Env(), rc);
  }

  static bool IntArg(const Napi::CallbackInfo& info, size_t i, int lo, int hi, int* out) {
    if (info.Length() <= i || !info[i].IsNumber()) return false;
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= lo && d <= hi) || static_cast<double>(static_cast<int>(d)) != d) return false;
    *out = static_cast<int>(d);
    return true;
  }

  Napi::Value BadArgs(const Napi::CallbackInfo& info, const char* usage) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // connect(host, port, keepalive): mosquitto_connect_async — a non-blocking connect. `host` must be a numeric
  // address (the wrapper resolves names with dns.lookup first), so libmosquitto's getaddrinfo() never blocks.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    int port = 0;
    int keepalive = 0;
    if (info.Length() < 3 || !info[0].IsString() || !IntArg(info, 1, 1, 65535, &port) ||
        !IntArg(info, 2, 5, 65535, &keepalive)) {
      return BadArgs(info, "connect(host: string, port: 1..65535, keepalive: 5..65535)");
    }
    std::string host = info[0].As<Napi::String>().Utf8Value();
    return Call(info, [&] { return mosquitto_connect_async(mosq_, host.c_str(), port, keepalive); });
  }

  Napi::Value Reconnect(const Napi::CallbackInfo& info) {
    return Call(info, [&] { return mosquitto_reconnect_async(mosq_); });
  }

  Napi::Value Disconnect(const Napi::CallbackInfo& info) {
    return Call(info, [&] { return mosquitto_disconnect(mosq_); });
  }

  Napi::Value Subscribe(const Napi::CallbackInfo& info) {
    int qos = 0;
    if (info.Length() < 2 || !info[0].IsString() || !IntArg(info, 1, 0, 2, &qos)) {
      return BadArgs(info, "subscribe(topic: string, qos: 0..2)");
    }
    std::string topic = info[0].As<Napi::String>().Utf8Value();
    int mid = 0;
    Napi::Value rc = Call(info, [&] { return mosquitto_subscribe(mosq_, &mid, topic.c_str(), qos); });
    state_[0] = mid;
    return rc;
  }

  Napi::Value Unsubscribe(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsString()) return BadArgs(info, "unsubscribe(topic: string)");
    std::string topic = info[0].As<Napi::String>().Utf8Value();
    int mid = 0;
    Napi::Value rc = Call(info, [&] { return mosquitto_unsubscribe(mosq_, &mid, topic.c_str()); });
    state_[0] = mid;
    return rc;
  }

  // publish(topic, payload: Uint8Array, qos, retain)
  Napi::Value Publish(const Napi::CallbackInfo& info) {
    int qos = 0;
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !IntArg(info, 2, 0, 2, &qos)) {
      return BadArgs(info, "publish(topic: string, payload: Uint8Array, qos: 0..2, retain: boolean)");
    }
    std::string topic = info[0].As<Napi::String>().Utf8Value();
    Napi::Uint8Array payload = info[1].As<Napi::Uint8Array>();
    if (payload.ByteLength() > static_cast<size_t>(INT_MAX)) return BadArgs(info, "publish: payload too large");
    // Strict booleans, never ToBoolean(): napi_coerce_to_bool fails in a terminating worker and node-addon-api then
    // aborts the process on the empty value it returns (seen on Node 26).
    bool retain = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    int mid = 0;
    Napi::Value rc = Call(info, [&] {
      return mosquitto_publish(mosq_, &mid, topic.c_str(), static_cast<int>(payload.ByteLength()), payload.Data(), qos,
                               retain);
    });
    state_[0] = mid;
    return rc;
  }

  // loopRead(maxRounds): mosquitto_loop_read reads one packet per call (plus the QoS>0 backlog); call it again
  // while the socket still had data, up to maxRounds times, so one readiness event drains a burst. errno tells
  // whether the last read stopped at EAGAIN: libmosquitto itself uses exactly that test to end its loop.
  Napi::Value LoopRead(const Napi::CallbackInfo& info) {
    int rounds = 1;
    if (info.Length() > 0 && !IntArg(info, 0, 1, 1 << 20, &rounds)) return BadArgs(info, "loopRead(maxRounds: 1..2^20)");
    return Call(info, [&] {
      int rc = MOSQ_ERR_SUCCESS;
      for (int i = 0; i < rounds; i++) {
        errno = 0;
        rc = mosquitto_loop_read(mosq_, 1);
        if (rc != MOSQ_ERR_SUCCESS || errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (mosquitto_socket(mosq_) < 0) break;
      }
      return rc;
    });
  }

  Napi::Value LoopWrite(const Napi::CallbackInfo& info) {
    return Call(info, [&] { return mosquitto_loop_write(mosq_, 1); });
  }

  Napi::Value LoopMisc(const Napi::CallbackInfo& info) {
    return Call(info, [&] { return mosquitto_loop_misc(mosq_); });
  }

  Napi::Value Socket(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), mosq_ == nullptr ? -1 : mosquitto_socket(mosq_));
  }

  Napi::Value WantWrite(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), mosq_ != nullptr && mosquitto_want_write(mosq_));
  }

  // destroy(): frees the client and closes its socket. Idempotent; every later call returns MOSQ_ERR_INVAL
  // (the wrapper refuses them before that with a typed error).
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    collecting_ = false;
    if (mosq_ != nullptr) {
      struct mosquitto* m = mosq_;
      mosq_ = nullptr;
      mosquitto_destroy(m);
    }
    if (hook_added_) {
      hook_added_ = false;
      napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    }
  }

  static void OnEnvCleanup(void* arg) {
    Client* self = static_cast<Client*>(arg);
    self->hook_added_ = false;  // the hook is being run: it must not be removed
    self->collecting_ = false;
    if (self->mosq_ != nullptr) {
      struct mosquitto* m = self->mosq_;
      self->mosq_ = nullptr;
      mosquitto_destroy(m);
    }
  }

  struct mosquitto* mosq_ = nullptr;
  napi_env env_ = nullptr;
  Napi::Reference<Napi::Array> events_;
  Napi::Reference<Napi::Int32Array> state_ref_;
  int32_t* state_ = nullptr;
  bool collecting_ = false;
  bool hook_added_ = false;
};

Napi::Value Strerror(const Napi::CallbackInfo& info) {
  int rc = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  return Napi::String::New(info.Env(), mosquitto_strerror(rc));
}

Napi::Value ConnackString(const Napi::CallbackInfo& info) {
  int rc = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  return Napi::String::New(info.Env(), mosquitto_connack_string(rc));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::call_once(lib_init_once, [] { lib_init_rc = mosquitto_lib_init(); });
  int major = 0;
  int minor = 0;
  int revision = 0;
  mosquitto_lib_version(&major, &minor, &revision);
  exports.Set("Client", Client::Define(env));
  exports.Set("strerror", Napi::Function::New(env, Strerror, "strerror"));
  exports.Set("connackString", Napi::Function::New(env, ConnackString, "connackString"));
  exports.Set("version", Napi::String::New(env, std::to_string(major) + "." + std::to_string(minor) + "." +
                                                    std::to_string(revision)));
  return exports;
}

}  // namespace

NODE_API_MODULE(fdloop_mosquitto, Init)
