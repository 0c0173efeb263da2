// Argument checks for native entry points, shared by every fdloop addon (the backends, mod-serial, the examples).
// The TypeScript layer validates arguments first and throws the library's typed errors; these checks exist so that
// a direct call with bad arguments throws a TypeError or RangeError instead of reaching a system call with a
// truncated or out-of-range value. Compiled into an addon by fdloop_addon(... COMPONENTS args) (or `posix`).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace fdloop {

// Reads argument `index` as an integer in [min, max]. On failure a JS exception is pending and false is returned.
bool IntegerArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max,
                int64_t* out);

// Reads argument `index` as a descriptor (a non-negative int).
bool FdArg(const Napi::CallbackInfo& info, size_t index, int* out);

// A byte range of a Uint8Array argument, already bounds-checked.
struct ByteRange {
  uint8_t* data;
  size_t length;
};

// Reads argument `index` as a Uint8Array (a Buffer qualifies) and arguments `index + 1`, `index + 2` as the
// offset and length of the range to use inside it.
bool ByteRangeArgs(const Napi::CallbackInfo& info, size_t index, ByteRange* out);

// Reads argument `index` as an Int32Array of at least `length` elements, for functions that return several
// descriptors without allocating a JS array.
bool Int32OutArg(const Napi::CallbackInfo& info, size_t index, size_t length, int32_t** out);

}  // namespace fdloop
