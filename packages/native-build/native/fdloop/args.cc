#include "fdloop/args.h"

#include <climits>
#include <cmath>
#include <string>

namespace fdloop {

bool IntegerArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max,
                int64_t* out) {
  Napi::Env env = info.Env();
  double number = 0;
  // One call both checks the type and reads the value (napi_number_expected otherwise): these helpers sit on the
  // hot path of every read and write, where a separate napi_typeof showed up in profiles.
  if (napi_get_value_double(env, info[index], &number) != napi_ok) {
    Napi::TypeError::New(env, std::string(name) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  // Compare as doubles before converting: casting NaN or an out-of-range double to an integer is undefined.
  if (!(number >= static_cast<double>(min) && number <= static_cast<double>(max)) || std::trunc(number) != number) {
    Napi::RangeError::New(env, std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
                                   std::to_string(max))
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(number);
  return true;
}

bool FdArg(const Napi::CallbackInfo& info, size_t index, int* out) {
  int64_t fd = 0;
  if (!IntegerArg(info, index, "fd", 0, INT_MAX, &fd)) return false;
  *out = static_cast<int>(fd);
  return true;
}

bool ByteRangeArgs(const Napi::CallbackInfo& info, size_t index, ByteRange* out) {
  Napi::Env env = info.Env();
  napi_typedarray_type type = napi_int8_array;
  size_t size = 0;
  void* data = nullptr;
  // A single napi_get_typedarray_info gives type, length and the data pointer (already adjusted by the view's
  // byteOffset); node-addon-api's accessors would call it once per property. Non-typed-arrays fail here.
  if (napi_get_typedarray_info(env, info[index], &type, &size, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    Napi::TypeError::New(env, "buffer must be a Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  int64_t offset = 0;
  int64_t length = 0;
  if (!IntegerArg(info, index + 1, "offset", 0, static_cast<int64_t>(size), &offset)) return false;
  if (!IntegerArg(info, index + 2, "length", 0, static_cast<int64_t>(size) - offset, &length)) return false;
  // A detached buffer has size 0 and a null pointer, which the bounds above reduce to an empty range.
  out->data = static_cast<uint8_t*>(data) + offset;
  out->length = static_cast<size_t>(length);
  return true;
}

bool Int32OutArg(const Napi::CallbackInfo& info, size_t index, size_t length, int32_t** out) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      value.As<Napi::Int32Array>().ElementLength() < length) {
    Napi::TypeError::New(env, "out must be an Int32Array of length " + std::to_string(length))
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = value.As<Napi::Int32Array>().Data();
  return true;
}

}  // namespace fdloop
