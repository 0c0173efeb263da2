#include "sources/gpio.h"

#include <linux/gpio.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fdloop/args.h"
#include "fdloop/posix/syscall.h"

namespace fdloop::sources {

namespace {

// The layout src/gpio.ts encodes. Each number here is checked against the kernel header below.
constexpr size_t kChipInfoSize = 68;
constexpr size_t kLineAttributeSize = 16;
constexpr size_t kConfigAttributeSize = 24;
constexpr size_t kLineConfigSize = 272;
constexpr size_t kLineRequestSize = 592;
constexpr size_t kLineInfoSize = 256;
constexpr size_t kLineValuesSize = 16;
constexpr size_t kLineEventSize = 48;

static_assert(sizeof(gpiochip_info) == kChipInfoSize, "gpiochip_info");
static_assert(offsetof(gpiochip_info, label) == 32 && offsetof(gpiochip_info, lines) == 64, "gpiochip_info fields");
static_assert(sizeof(gpio_v2_line_attribute) == kLineAttributeSize, "gpio_v2_line_attribute");
static_assert(offsetof(gpio_v2_line_attribute, flags) == 8, "gpio_v2_line_attribute union");
static_assert(sizeof(gpio_v2_line_config_attribute) == kConfigAttributeSize, "gpio_v2_line_config_attribute");
static_assert(offsetof(gpio_v2_line_config_attribute, mask) == 16, "gpio_v2_line_config_attribute.mask");
static_assert(sizeof(gpio_v2_line_config) == kLineConfigSize, "gpio_v2_line_config");
static_assert(offsetof(gpio_v2_line_config, num_attrs) == 8 && offsetof(gpio_v2_line_config, attrs) == 32,
              "gpio_v2_line_config fields");
static_assert(sizeof(gpio_v2_line_request) == kLineRequestSize, "gpio_v2_line_request");
static_assert(offsetof(gpio_v2_line_request, consumer) == 256 && offsetof(gpio_v2_line_request, config) == 288 &&
                  offsetof(gpio_v2_line_request, num_lines) == 560 &&
                  offsetof(gpio_v2_line_request, event_buffer_size) == 564 && offsetof(gpio_v2_line_request, fd) == 588,
              "gpio_v2_line_request fields");
static_assert(sizeof(gpio_v2_line_info) == kLineInfoSize, "gpio_v2_line_info");
static_assert(offsetof(gpio_v2_line_info, consumer) == 32 && offsetof(gpio_v2_line_info, offset) == 64 &&
                  offsetof(gpio_v2_line_info, num_attrs) == 68 && offsetof(gpio_v2_line_info, flags) == 72 &&
                  offsetof(gpio_v2_line_info, attrs) == 80,
              "gpio_v2_line_info fields");
static_assert(sizeof(gpio_v2_line_values) == kLineValuesSize && offsetof(gpio_v2_line_values, mask) == 8,
              "gpio_v2_line_values");
static_assert(sizeof(gpio_v2_line_event) == kLineEventSize, "gpio_v2_line_event");
static_assert(offsetof(gpio_v2_line_event, id) == 8 && offsetof(gpio_v2_line_event, offset) == 12 &&
                  offsetof(gpio_v2_line_event, seqno) == 16 && offsetof(gpio_v2_line_event, line_seqno) == 20,
              "gpio_v2_line_event fields");
static_assert(GPIO_V2_LINES_MAX == 64 && GPIO_V2_LINE_NUM_ATTRS_MAX == 10 && GPIO_MAX_NAME_SIZE == 32, "limits");
static_assert(GPIO_V2_LINE_FLAG_ACTIVE_LOW == 2 && GPIO_V2_LINE_FLAG_INPUT == 4 && GPIO_V2_LINE_FLAG_OUTPUT == 8 &&
                  GPIO_V2_LINE_FLAG_EDGE_RISING == 16 && GPIO_V2_LINE_FLAG_EDGE_FALLING == 32 &&
                  GPIO_V2_LINE_FLAG_OPEN_DRAIN == 64 && GPIO_V2_LINE_FLAG_OPEN_SOURCE == 128 &&
                  GPIO_V2_LINE_FLAG_BIAS_PULL_UP == 256 && GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN == 512 &&
                  GPIO_V2_LINE_FLAG_BIAS_DISABLED == 1024 && GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME == 2048,
              "gpio_v2_line_flag values");
static_assert(GPIO_V2_LINE_ATTR_ID_FLAGS == 1 && GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES == 2 &&
                  GPIO_V2_LINE_ATTR_ID_DEBOUNCE == 3,
              "gpio_v2_line_attr_id values");
static_assert(GPIO_V2_LINE_EVENT_RISING_EDGE == 1 && GPIO_V2_LINE_EVENT_FALLING_EDGE == 2, "event ids");

struct Request {
  unsigned long number;
  size_t size;
};

// Index `which` of ioctl(fd, which, buffer): 0 chip info, 1 line info, 2 line request, 3 set config, 4 get values,
// 5 set values.
constexpr Request kRequests[] = {
    {GPIO_GET_CHIPINFO_IOCTL, kChipInfoSize},          {GPIO_V2_GET_LINEINFO_IOCTL, kLineInfoSize},
    {GPIO_V2_GET_LINE_IOCTL, kLineRequestSize},        {GPIO_V2_LINE_SET_CONFIG_IOCTL, kLineConfigSize},
    {GPIO_V2_LINE_GET_VALUES_IOCTL, kLineValuesSize}, {GPIO_V2_LINE_SET_VALUES_IOCTL, kLineValuesSize},
};

// ioctl(fd, which, buffer) -> 0 | -errno. `buffer` is a Uint8Array of exactly the struct's size, read and written
// by the kernel in place.
Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  int64_t which = 0;
  if (!FdArg(info, 0, &fd) || !IntegerArg(info, 1, "which", 0, 5, &which)) return env.Undefined();
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "buffer must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array buffer = info[2].As<Napi::Uint8Array>();
  const Request& request = kRequests[which];
  if (buffer.ByteLength() != request.size) {
    Napi::RangeError::New(env, "buffer has the wrong size for this GPIO request").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Copy into aligned storage: the kernel structs hold 64-bit fields, a Buffer's slice may be unaligned.
  alignas(8) uint8_t storage[kLineRequestSize];
  std::memcpy(storage, buffer.Data(), request.size);
  const int rc = posix::Syscall([&] { return ioctl(fd, request.number, storage); });
  if (rc >= 0) std::memcpy(buffer.Data(), storage, request.size);
  return Napi::Number::New(env, rc < 0 ? rc : 0);
}

}  // namespace

Napi::Object CreateGpio(Napi::Env env) {
  Napi::Object gpio = Napi::Object::New(env);
  gpio.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
  Napi::Object layout = Napi::Object::New(env);
  auto set = [&](const char* name, size_t value) { layout.Set(name, Napi::Number::New(env, static_cast<double>(value))); };
  set("chipInfo", sizeof(gpiochip_info));
  set("lineInfo", sizeof(gpio_v2_line_info));
  set("lineRequest", sizeof(gpio_v2_line_request));
  set("lineConfig", sizeof(gpio_v2_line_config));
  set("lineValues", sizeof(gpio_v2_line_values));
  set("lineEvent", sizeof(gpio_v2_line_event));
  set("requestConfigOffset", offsetof(gpio_v2_line_request, config));
  set("requestFdOffset", offsetof(gpio_v2_line_request, fd));
  set("infoAttrsOffset", offsetof(gpio_v2_line_info, attrs));
  gpio.Set("layout", layout);
  return gpio;
}

}  // namespace fdloop::sources
