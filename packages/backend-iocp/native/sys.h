// Small Windows helpers the tests and users need: loopback TCP sockets, overlapped named pipes and files, and the
// error table. Every function returns a non-negative result or minus a Win32/WSA error code.
#pragma once

#include <napi.h>

namespace fdloop_iocp {

/** The `sys` object of the addon. */
Napi::Object DefineSys(Napi::Env env);

}  // namespace fdloop_iocp
