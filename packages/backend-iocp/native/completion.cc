// The descriptor side of the contract's completion layer (`iocp().completion`, src/completion.ts): opening a file
// as two handles — an overlapped one for the poller's ReadFile/WriteFile and a synchronous one (ReOpenFile) wrapped
// as a C-runtime fd of node.exe's own CRT with node.exe's exported `uv_open_osfhandle`, so node:fs accepts the fd.
// The overlapped handle must never reach node:fs: libuv's fs__read/fs__write do not wait for an overlapped handle
// (they get ERROR_IO_PENDING) and their stack OVERLAPPEDs would reach our completion port. `uv_open_osfhandle` is
// looked up in the main module (node.exe) on every call. The only state is per environment: the overlapped handles
// this environment's layers hold, closed by its cleanup hook when a worker is terminated without dispose() (the
// hook was registered at load, before any poller's, so it runs after every poller has drained its operations).
#include "completion.h"

#include <string>
#include <unordered_set>
#include <utility>

#include "win.h"

namespace fdloop_iocp {
namespace {

// libuv's UV_FS_O_* on Windows (the values of node's fs.constants there).
constexpr uint32_t kORdonly = 0x0000;
constexpr uint32_t kOWronly = 0x0001;
constexpr uint32_t kORdwr = 0x0002;
constexpr uint32_t kOAppend = 0x0008;
constexpr uint32_t kOCreat = 0x0100;
constexpr uint32_t kOTrunc = 0x0200;
constexpr uint32_t kOExcl = 0x0400;
constexpr uint32_t kODsync = 0x04000000;
constexpr uint32_t kOSync = 0x08000000;
constexpr uint32_t kOExlock = 0x10000000;

using UvOpenOsfhandle = int (*)(HANDLE);

// The overlapped handles this environment's layers have open. JS thread only.
struct Handles {
  std::unordered_set<HANDLE> open;
};

void CloseAll(void* arg) {
  auto* handles = static_cast<Handles*>(arg);
  for (HANDLE h : handles->open) CloseHandle(h);
  delete handles;
}

UvOpenOsfhandle FindUvOpenOsfhandle() {
  // GetModuleHandleW(nullptr) is the executable: node.exe exports libuv's public API (node_api.def lists only
  // napi_*, so it cannot be linked against).
  return reinterpret_cast<UvOpenOsfhandle>(
      reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(nullptr), "uv_open_osfhandle")));
}

HANDLE ArgHandle(const Napi::Value& v) {
  return reinterpret_cast<HANDLE>(static_cast<intptr_t>(v.As<Napi::Number>().Int64Value()));
}

// available() -> whether node.exe exports uv_open_osfhandle (it does from Node 12 on; an embedder may not).
Napi::Value Available(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), FindUvOpenOsfhandle() != nullptr);
}

struct OpenResult {
  DWORD error;
  HANDLE handle;
  int fd;
  DWORD file_type;
};

OpenResult Result(DWORD error, HANDLE handle, int fd, DWORD file_type) { return {error, handle, fd, file_type}; }

// Runs on a thread-pool thread, as libuv's fs__open does: CreateFileW may wait (a network share, a scanner).
// The flags are mapped as libuv's fs__open maps them. A file that is not FILE_TYPE_DISK is closed again and
// reported as {0, nullptr, -1, type}. Without want_fd (readFile) only the overlapped handle is made.
OpenResult DoOpen(const std::u16string& path, uint32_t flags, uint32_t mode, bool want_fd) {

  DWORD access;
  switch (flags & (kORdonly | kOWronly | kORdwr)) {
    case kORdonly:
      access = FILE_GENERIC_READ;
      break;
    case kOWronly:
      access = FILE_GENERIC_WRITE;
      break;
    case kORdwr:
      access = FILE_GENERIC_READ | FILE_GENERIC_WRITE;
      break;
    default:
      return Result(ERROR_INVALID_PARAMETER, nullptr, -1, 0);
  }
  if (flags & kOAppend) {
    // Only appending: the kernel writes every byte at the end of the file, whatever offset a write names.
    access &= ~static_cast<DWORD>(FILE_WRITE_DATA);
    access |= FILE_APPEND_DATA;
  }
  DWORD sharing = FILE_SHARE_READ | FILE_SHARE_WRITE;
  if (!(flags & kOExlock)) sharing |= FILE_SHARE_DELETE;
  DWORD disposition;
  switch (flags & (kOCreat | kOExcl | kOTrunc)) {
    case 0:
    case kOExcl:
      disposition = OPEN_EXISTING;
      break;
    case kOCreat:
      disposition = OPEN_ALWAYS;
      break;
    case kOCreat | kOExcl:
    case kOCreat | kOTrunc | kOExcl:
      disposition = CREATE_NEW;
      break;
    case kOTrunc:
    case kOTrunc | kOExcl:
      disposition = TRUNCATE_EXISTING;
      break;
    case kOCreat | kOTrunc:
      disposition = CREATE_ALWAYS;
      break;
    default:
      return Result(ERROR_INVALID_PARAMETER, nullptr, -1, 0);
  }
  DWORD attributes = FILE_ATTRIBUTE_NORMAL;
  if ((flags & kOCreat) && !(mode & 0200)) attributes |= FILE_ATTRIBUTE_READONLY;  // _S_IWRITE
  DWORD sync_flags = FILE_FLAG_BACKUP_SEMANTICS;  // as libuv: lets a directory be opened
  if (flags & (kODsync | kOSync)) sync_flags |= FILE_FLAG_WRITE_THROUGH;

  UvOpenOsfhandle open_osfhandle = nullptr;
  if (want_fd) {
    open_osfhandle = FindUvOpenOsfhandle();
    if (open_osfhandle == nullptr) return Result(ERROR_PROC_NOT_FOUND, nullptr, -1, 0);
  }

  // Not inheritable (no SECURITY_ATTRIBUTES): the contract's close-on-exec.
  HANDLE overlapped = CreateFileW(reinterpret_cast<const wchar_t*>(path.c_str()), access, sharing, nullptr,
                                  disposition, attributes | sync_flags | FILE_FLAG_OVERLAPPED, nullptr);
  if (overlapped == INVALID_HANDLE_VALUE) return Result(GetLastError(), nullptr, -1, 0);
  DWORD type = GetFileType(overlapped);
  if (type != FILE_TYPE_DISK) {
    CloseHandle(overlapped);
    return Result(0, nullptr, -1, type);
  }
  if (!want_fd) return Result(0, overlapped, -1, type);

  // The descriptor's handle: the same file, opened again without FILE_FLAG_OVERLAPPED, so node:fs's synchronous
  // ReadFile/WriteFile on it work. Writes on either handle are seen by reads on the other (one file).
  HANDLE sync = ReOpenFile(overlapped, access, sharing, sync_flags);
  if (sync == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    CloseHandle(overlapped);
    return Result(error, nullptr, -1, 0);
  }
  int fd = open_osfhandle(sync);
  if (fd < 0) {
    CloseHandle(sync);
    CloseHandle(overlapped);
    return Result(ERROR_TOO_MANY_OPEN_FILES, nullptr, -1, 0);
  }
  return Result(0, overlapped, fd, type);
}

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(const Napi::Function& callback, Handles* handles, std::u16string path, uint32_t flags, uint32_t mode,
             bool want_fd)
      : Napi::AsyncWorker(callback, "fdloop:iocp-open"),
        handles_(handles),
        path_(std::move(path)),
        flags_(flags),
        mode_(mode),
        want_fd_(want_fd) {}

  void Execute() override { result_ = DoOpen(path_, flags_, mode_, want_fd_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (result_.handle != nullptr) handles_->open.insert(result_.handle);
    Napi::Array out = Napi::Array::New(env, 4);
    out.Set(0u, Napi::Number::New(env, result_.error));
    out.Set(1u, Napi::Number::New(env, static_cast<double>(reinterpret_cast<intptr_t>(result_.handle))));
    out.Set(2u, Napi::Number::New(env, result_.fd));
    out.Set(3u, Napi::Number::New(env, result_.file_type));
    Callback().Call({out});
  }

 private:
  Handles* handles_;
  std::u16string path_;
  uint32_t flags_;
  uint32_t mode_;
  bool want_fd_;
  OpenResult result_{0, nullptr, -1, 0};
};

// open(namespacedPath, flags, mode, wantFd, callback): callback([win32Error, overlappedHandle, fd, fileType]) on
// the JS thread once the thread pool has opened the file (see DoOpen).
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* handles = static_cast<Handles*>(info.Data());
  auto* worker = new OpenWorker(info[4].As<Napi::Function>(), handles, info[0].As<Napi::String>().Utf16Value(),
                                info[1].As<Napi::Number>().Uint32Value(), info[2].As<Napi::Number>().Uint32Value(),
                                info[3].As<Napi::Boolean>().Value());
  worker->Queue();
  return env.Undefined();
}

// info(handle) -> [win32Error, size, isDirectory (0/1)].
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BY_HANDLE_FILE_INFORMATION data;
  Napi::Array out = Napi::Array::New(env, 3);
  if (!GetFileInformationByHandle(ArgHandle(info[0]), &data)) {
    out.Set(0u, Napi::Number::New(env, GetLastError()));
    out.Set(1u, Napi::Number::New(env, 0));
    out.Set(2u, Napi::Number::New(env, 0));
    return out;
  }
  uint64_t size = (static_cast<uint64_t>(data.nFileSizeHigh) << 32) | data.nFileSizeLow;
  out.Set(0u, Napi::Number::New(env, 0));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(size)));
  out.Set(2u, Napi::Number::New(env, (data.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? 1 : 0));
  return out;
}

using UvGetOsfhandle = HANDLE (*)(int);

// filePointer(fd[, position]) -> [win32Error, position]: the file pointer of the handle behind a C-runtime fd of
// node.exe (found with its exported `uv_get_osfhandle`), the one node:fs's reads and writes with `position: null`
// use and advance; with `position`, moves it there first (SetFilePointerEx FILE_BEGIN).
Napi::Value FilePointer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 2);
  auto get_osfhandle = reinterpret_cast<UvGetOsfhandle>(
      reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(nullptr), "uv_get_osfhandle")));
  DWORD error = 0;
  LARGE_INTEGER now{};
  if (get_osfhandle == nullptr) {
    error = ERROR_PROC_NOT_FOUND;
  } else {
    HANDLE h = get_osfhandle(info[0].As<Napi::Number>().Int32Value());
    const bool set = info.Length() > 1 && info[1].IsNumber();
    LARGE_INTEGER move{};
    move.QuadPart = set ? info[1].As<Napi::Number>().Int64Value() : 0;
    if (h == INVALID_HANDLE_VALUE) error = ERROR_INVALID_HANDLE;
    else if (!SetFilePointerEx(h, move, &now, set ? FILE_BEGIN : FILE_CURRENT)) error = GetLastError();
  }
  out.Set(0u, Napi::Number::New(env, error));
  out.Set(1u, Napi::Number::New(env, error == 0 ? static_cast<double>(now.QuadPart) : 0));
  return out;
}

// closeHandle(handle) -> 0 or a Win32 error code. For an overlapped handle open() made only (anything else is
// ERROR_INVALID_HANDLE): the fd's handle belongs to node.exe's C runtime and is closed through node:fs.
Napi::Value CloseOverlapped(const Napi::CallbackInfo& info) {
  auto* handles = static_cast<Handles*>(info.Data());
  HANDLE h = ArgHandle(info[0]);
  if (handles->open.erase(h) == 0) return Napi::Number::New(info.Env(), ERROR_INVALID_HANDLE);
  return Napi::Number::New(info.Env(), CloseHandle(h) ? 0 : GetLastError());
}

// postForeignIo(port, address) -> 0 or a Win32 error code. Queues a packet with the poller's I/O completion key
// (0) and an OVERLAPPED pointer the poller never issued — what libuv's stack OVERLAPPED looks like when a handle
// associated with the port is also used by a synchronous node:fs call. For the test of the poller's guard: it
// must drop such a packet without touching `address`.
Napi::Value PostForeignIo(const Napi::CallbackInfo& info) {
  HANDLE port = ArgHandle(info[0]);
  auto address = static_cast<uintptr_t>(info[1].As<Napi::Number>().Int64Value());
  BOOL ok = PostQueuedCompletionStatus(port, 0, 0, reinterpret_cast<LPOVERLAPPED>(address));
  return Napi::Number::New(info.Env(), ok ? 0 : GetLastError());
}

}  // namespace

Napi::Object DefineCompletion(Napi::Env env) {
  auto* handles = new Handles();
  napi_add_env_cleanup_hook(env, CloseAll, handles);
  Napi::Object completion = Napi::Object::New(env);
  completion.Set("available", Napi::Function::New(env, Available));
  completion.Set("open", Napi::Function::New(env, Open, "open", handles));
  completion.Set("info", Napi::Function::New(env, Info));
  completion.Set("filePointer", Napi::Function::New(env, FilePointer));
  completion.Set("closeHandle", Napi::Function::New(env, CloseOverlapped, "closeHandle", handles));
  completion.Set("postForeignIo", Napi::Function::New(env, PostForeignIo));
  return completion;
}

}  // namespace fdloop_iocp
