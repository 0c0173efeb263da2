// The one table from Win32 / WSA error codes to Node's E* names. NTSTATUS values are first turned into Win32
// codes with RtlNtStatusToDosError, so every error a Windows call can produce goes through this table.
#pragma once

#include <cstdint>

namespace fdloop_iocp {

/** The Node-style name ("EBADF") of a Win32 or WSA error code, or "UNKNOWN" when the table has none. */
const char* ErrorName(uint32_t win32_error);

/** The Win32 error code an NTSTATUS corresponds to (RtlNtStatusToDosError). */
uint32_t NtStatusToWin32(int32_t status);

}  // namespace fdloop_iocp
