// Small Windows helpers the tests and users need: loopback TCP sockets, overlapped named pipes and files, and the
// error table. Every function returns a non-negative result or minus a Win32/WSA error code.
#pragma once

#include <napi.h>

#include "registry.h"

namespace fdloop_iocp {

/** The `sys` object of the addon; its socket I/O reports would-blocks to `registry` (edge re-arm). */
Napi::Object DefineSys(Napi::Env env, Registry* registry);

}  // namespace fdloop_iocp
