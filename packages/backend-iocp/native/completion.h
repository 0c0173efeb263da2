// The descriptor side of `iocp().completion`: files opened as an overlapped handle plus a node:fs-compatible fd.
#pragma once

#include <napi.h>

namespace fdloop_iocp {

/** The `completion` object of the addon: `available`, `open`, `info`, `closeHandle`, `postForeignIo` (see completion.cc). */
Napi::Object DefineCompletion(Napi::Env env);

}  // namespace fdloop_iocp
