// Windows headers in the one order that works (winsock2 before windows.h), plus the undocumented-but-stable AFD
// definitions used for socket readiness. The AFD layout and IOCTL code are the ones every readiness library on
// Windows relies on (wepoll, mio, libuv's fast poll); they have not changed since Windows Vista.
#pragma once

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <winternl.h>

#include <cstdint>

namespace fdloop_iocp {

// The completion key of source packets (timers, notifiers), shared by the poller and sys.postToPort.
constexpr ULONG_PTR kKeySource = 3;

// NTSTATUS values we test for by name (ntstatus.h conflicts with windows.h, so only these).
constexpr NTSTATUS kStatusSuccess = 0;
constexpr NTSTATUS kStatusPending = 0x00000103L;
constexpr NTSTATUS kStatusCancelled = static_cast<NTSTATUS>(0xC0000120L);

// IOCTL_AFD_POLL = CTL_CODE(FILE_DEVICE_NETWORK (0x12)… as AFD defines it: 0x00012024.
constexpr ULONG kIoctlAfdPoll = 0x00012024;

// AFD poll event bits (AFD_POLL_*).
constexpr ULONG kAfdPollReceive = 0x0001;
constexpr ULONG kAfdPollReceiveExpedited = 0x0002;
constexpr ULONG kAfdPollSend = 0x0004;
constexpr ULONG kAfdPollDisconnect = 0x0008;
constexpr ULONG kAfdPollAbort = 0x0010;
constexpr ULONG kAfdPollLocalClose = 0x0020;
constexpr ULONG kAfdPollAccept = 0x0080;
constexpr ULONG kAfdPollConnectFail = 0x0100;

struct AfdPollHandleInfo {
  HANDLE handle;
  ULONG events;
  NTSTATUS status;
};

struct AfdPollInfo {
  LARGE_INTEGER timeout;
  ULONG number_of_handles;
  ULONG exclusive;
  AfdPollHandleInfo handles[1];
};

// SIO_BASE_HANDLE and the two fallbacks for sockets wrapped by a layered service provider (as wepoll does).
#ifndef SIO_BASE_HANDLE
#define SIO_BASE_HANDLE _WSAIOR(IOC_WS2, 34)
#endif
#ifndef SIO_BSP_HANDLE_POLL
#define SIO_BSP_HANDLE_POLL _WSAIOR(IOC_WS2, 29)
#endif
#ifndef SIO_BSP_HANDLE_SELECT
#define SIO_BSP_HANDLE_SELECT _WSAIOR(IOC_WS2, 28)
#endif

}  // namespace fdloop_iocp
