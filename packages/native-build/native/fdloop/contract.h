// The numbers of @fdloop/core's backend contract (packages/core/src/contract/index.ts) that native pollers
// translate to and from their kernel's flags: Interest bits in, Ready bits out, and the largest token. Header-only;
// every fdloop addon built with fdloop_addon() can include it.
#pragma once

#include <cstdint>

namespace fdloop {

// Interest bits: three conditions and two modes.
constexpr int64_t kInterestReadable = 1;
constexpr int64_t kInterestWritable = 2;
constexpr int64_t kInterestPriority = 4;
constexpr int64_t kInterestEdge = 8;
constexpr int64_t kInterestOneshot = 16;
constexpr int64_t kInterestConditions = kInterestReadable | kInterestWritable | kInterestPriority;
constexpr int64_t kInterestAll = kInterestConditions | kInterestEdge | kInterestOneshot;

// Ready bits.
constexpr uint32_t kReadyReadable = 1;
constexpr uint32_t kReadyWritable = 2;
constexpr uint32_t kReadyPriority = 4;
constexpr uint32_t kReadyReadHangup = 8;
constexpr uint32_t kReadyHangup = 16;
constexpr uint32_t kReadyError = 32;

// Tokens are JS safe integers; anything above 2^53 - 1 could not be written back exactly as a double.
constexpr int64_t kMaxToken = (int64_t{1} << 53) - 1;

}  // namespace fdloop
