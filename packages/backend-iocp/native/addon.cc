// fdloop_iocp.node: the Windows backend of fdloop. Exports { Poller, sys, net, completion }.
#include <napi.h>

#include "completion.h"
#include "net.h"
#include "poller.h"
#include "registry.h"
#include "sys.h"
#include "win.h"

namespace {

// Winsock is reference-counted per process: each environment (main thread, each worker) takes one reference and
// gives it back when it is torn down, so no state outlives its thread. The same hook drops the environment's
// reference to its poller registry. It is registered before any poller's hook, and hooks run in reverse order, so
// every poller of the environment has closed (and left the registry) when it runs.
void ReleaseEnvironment(void* arg) {
  fdloop_iocp::ReleaseRegistry(static_cast<fdloop_iocp::Registry*>(arg));
  WSACleanup();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  WSADATA data;
  int rc = WSAStartup(MAKEWORD(2, 2), &data);
  if (rc != 0) {
    Napi::Error e = Napi::Error::New(env, "WSAStartup failed with Windows error " + std::to_string(rc));
    e.Set("errno", Napi::Number::New(env, rc));
    e.Set("syscall", Napi::String::New(env, "WSAStartup"));
    e.ThrowAsJavaScriptException();
    return exports;
  }
  fdloop_iocp::Registry* registry = new fdloop_iocp::Registry();
  napi_add_env_cleanup_hook(env, ReleaseEnvironment, registry);
  exports.Set("Poller", fdloop_iocp::Poller::Define(env, registry));
  exports.Set("sys", fdloop_iocp::DefineSys(env, registry));
  exports.Set("net", fdloop_iocp::DefineNet(env, registry));
  exports.Set("completion", fdloop_iocp::DefineCompletion(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(fdloop_iocp, Init)
