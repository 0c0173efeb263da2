// fdloop_iocp.node: the Windows backend of fdloop. Exports { Poller, sys }.
#include <napi.h>

#include "poller.h"
#include "sys.h"
#include "win.h"

namespace {

// Winsock is reference-counted per process: each environment (main thread, each worker) takes one reference and
// gives it back when it is torn down, so no state outlives its thread.
void ReleaseWinsock(void*) { WSACleanup(); }

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
  napi_add_env_cleanup_hook(env, ReleaseWinsock, nullptr);
  exports.Set("Poller", fdloop_iocp::Poller::Define(env));
  exports.Set("sys", fdloop_iocp::DefineSys(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(fdloop_iocp, Init)
