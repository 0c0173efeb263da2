// GPIO character device (ABI v2) ioctls. The structs are built and decoded in src/gpio.ts with the byte layout
// pinned here by static_asserts against <linux/gpio.h>, so a header that disagrees fails the build instead of
// corrupting a request at run time.
#pragma once

#include <napi.h>

namespace fdloop::sources {

// The `gpio` object: `ioctl(fd, which, buffer)` for the v2 requests and `layout` (sizes and offsets).
Napi::Object CreateGpio(Napi::Env env);

}  // namespace fdloop::sources
