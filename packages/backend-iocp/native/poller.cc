#include "poller.h"

#include <cstddef>
#include <cstring>
#include <string>
#include <unordered_set>

#include "errors.h"
#include "registry.h"

namespace fdloop_iocp {
namespace {

// Interest bits of the contract (packages/core/src/contract/index.ts).
constexpr int32_t kInterestReadable = 1;
constexpr int32_t kInterestWritable = 2;
constexpr int32_t kInterestPriority = 4;
constexpr int32_t kInterestEdge = 8;
constexpr int32_t kInterestOneshot = 16;

// Ready bits of the contract.
constexpr int32_t kReadyReadable = 1;
constexpr int32_t kReadyWritable = 2;
constexpr int32_t kReadyPriority = 4;
constexpr int32_t kReadyReadHangup = 8;
constexpr int32_t kReadyHangup = 16;
constexpr int32_t kReadyError = 32;

// Completion keys. AFD handles and files use kKeyIo (the OVERLAPPED says which operation finished);
// PostQueuedCompletionStatus packets use the others and carry no OVERLAPPED of ours.
constexpr ULONG_PTR kKeyIo = 0;
constexpr ULONG_PTR kKeyStop = 1;
constexpr ULONG_PTR kKeyPost = 2;

// Source packets (timers, notifiers) are written as (token, value + 2^32): the value itself is a DWORD, so the
// TypeScript side tells them apart from readiness flags and completion results, and drops those of a closed
// source.
constexpr double kSourceTag = 4294967296.0;

// Sockets per \Device\Afd handle. One handle per socket would cost a kernel object each; one handle for all
// makes every cancellation scan one long IRP list. wepoll and mio settle on a few dozen.
constexpr int kSocketsPerAfd = 32;

// How long close() waits for the kernel to hand back cancelled operations before it leaks their memory rather
// than free what the kernel may still write.
constexpr ULONGLONG kDrainMillis = 5000;

enum class OpKind : uint8_t { kAfdPoll, kIo, kDirWatch };

// Every overlapped operation starts with an Op, whose OVERLAPPED is what the completion packet points back to.
// For NtDeviceIoControlFile the same OVERLAPPED doubles as the IO_STATUS_BLOCK (Internal = Status,
// InternalHigh = Information), which is how Windows itself lays them out.
struct Op {
  OVERLAPPED ov;
  OpKind kind;
  bool pending;  // the kernel owns this memory until its completion packet is dequeued
};

struct AfdGroup {
  HANDLE afd;
  int users;
};

struct SockState {
  Op op;  // first member: an Op* from a completion packet is a SockState*
  AfdPollInfo info;
  SOCKET sock;
  SOCKET base;
  AfdGroup* group;
  double token;
  int32_t interest;
  ULONG mask;         // the AFD events of the pending poll
  bool deleted;       // deregistered; freed once the kernel gives the poll back
  bool dead;          // the socket was closed under us (AFD_POLL_LOCAL_CLOSE): never polled again
  bool disarmed;      // ONESHOT delivered; waits for reregister
  bool resubmit;      // the pending poll was cancelled to change its events: submit again when it returns
  bool queued;        // in Core::rearm
  // Edge emulation (Interest.EDGE). AFD reports conditions, not arrivals, so after a report the direction that
  // fired is left out of the next poll until a backend I/O function sees WSAEWOULDBLOCK on the socket in that
  // direction (NoteWouldBlock) or reregister is called. A fresh AFD poll reports the condition if it still holds,
  // so data that arrives between the would-block and the new poll is never lost.
  bool edge_read;     // READABLE/PRIORITY bits are in the poll
  bool edge_write;    // WRITABLE is in the poll
  ULONG edge_spent;   // AFD_POLL_ABORT / CONNECT_FAIL already reported (they stay set): not polled again
  NTSTATUS failure;   // a submit that failed after the fact, reported as Ready.ERROR through a posted packet
};

struct IoOp {
  Op op;  // first member
  double token;
  HANDLE handle;
  napi_ref buffer;  // keeps the JS buffer alive while the kernel may write into it
  bool write;
};

// One watched directory of a path-watch set: an overlapped ReadDirectoryChangesW, re-issued as soon as it
// completes so no change is missed between two reads. Records wait in `queue` until the set's read().
struct DirWatch {
  Op op;  // first member
  HANDLE dir;
  double token;
  int32_t id;
  bool recursive;
  bool removed;   // remove() or close(): freed when the kernel hands the read back
  bool dead;      // the directory went away (or the read failed): reported once, never re-issued
  bool overflow;  // the kernel's buffer overflowed: some changes were lost
  // A watched file: its directory is watched (ReadDirectoryChangesW takes directories only) and only records of
  // this name are kept, as the pseudo-actions kDirSelf* below. Empty for a directory watch.
  std::u16string file_name;
  std::vector<std::pair<uint32_t, std::u16string>> queue;
  alignas(8) uint8_t buffer[64 * 1024];
};

constexpr DWORD kDirFilter = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME |
                             FILE_NOTIFY_CHANGE_ATTRIBUTES | FILE_NOTIFY_CHANGE_SIZE |
                             FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_CREATION;

// Pseudo-actions for the queue, beyond FILE_ACTION_* (1..5).
constexpr uint32_t kDirActionGone = 100;
// Of a watched file: changed (content, size, attributes or times: Windows says FILE_ACTION_MODIFIED for all);
// deleted (or replaced by another file renamed onto its name); renamed away. After the last two the watch ends.
constexpr uint32_t kDirSelfModified = 101;
constexpr uint32_t kDirSelfDeleted = 102;
constexpr uint32_t kDirSelfMoved = 103;

bool SameName(const std::u16string& a, const wchar_t* b, size_t b_length) {
  // NTFS names compare case-insensitively (ordinal, upper-cased), as the file system itself does.
  return CompareStringOrdinal(reinterpret_cast<const wchar_t*>(a.data()), static_cast<int>(a.size()), b,
                              static_cast<int>(b_length), TRUE) == CSTR_EQUAL;
}

DWORD IssueDirRead(DirWatch* w) {
  std::memset(&w->op.ov, 0, sizeof(w->op.ov));
  if (!ReadDirectoryChangesW(w->dir, w->buffer, sizeof(w->buffer), w->recursive, kDirFilter, nullptr, &w->op.ov,
                             nullptr)) {
    return GetLastError();
  }
  w->op.pending = true;
  return 0;
}

void ParseDirChanges(DirWatch* w, DWORD bytes) {
  // A record is its header plus FileNameLength bytes; sizeof(FILE_NOTIFY_INFORMATION) includes padding that the
  // last record need not have (Wine does not pad it), so bounds are checked against the real size.
  const size_t header = offsetof(FILE_NOTIFY_INFORMATION, FileName);
  size_t offset = 0;
  while (offset + header <= bytes) {
    const FILE_NOTIFY_INFORMATION* info = reinterpret_cast<const FILE_NOTIFY_INFORMATION*>(w->buffer + offset);
    if (offset + header + info->FileNameLength > bytes) break;
    const char16_t* name = reinterpret_cast<const char16_t*>(info->FileName);
    const size_t length = info->FileNameLength / sizeof(wchar_t);
    if (w->file_name.empty()) {
      w->queue.emplace_back(info->Action, std::u16string(name, length));
    } else if (SameName(w->file_name, info->FileName, length)) {
      if (info->Action == FILE_ACTION_MODIFIED) {
        w->queue.emplace_back(kDirSelfModified, std::u16string());
      } else if (info->Action == FILE_ACTION_REMOVED || info->Action == FILE_ACTION_RENAMED_NEW_NAME) {
        w->queue.emplace_back(kDirSelfDeleted, std::u16string());
        w->dead = true;  // the file is gone: no more reads (the name may be reused by another file)
        return;
      } else if (info->Action == FILE_ACTION_RENAMED_OLD_NAME) {
        w->queue.emplace_back(kDirSelfMoved, std::u16string());
        w->dead = true;
        return;
      }
    }
    if (info->NextEntryOffset == 0) break;
    offset += info->NextEntryOffset;
  }
}

// A kernel timer: a thread-pool timer whose callback posts (token, generation) to the port. The generation
// changes with every arm/disarm, so packets of an older setting are recognised and dropped.
struct TimerSource {
  HANDLE port;
  uintptr_t token;
  volatile LONG gen;
  PTP_TIMER timer;
};

void CALLBACK TimerFired(PTP_CALLBACK_INSTANCE, PVOID context, PTP_TIMER) {
  TimerSource* t = static_cast<TimerSource*>(context);
  DWORD gen = static_cast<DWORD>(InterlockedCompareExchange(&t->gen, 0, 0));
  PostQueuedCompletionStatus(t->port, gen, kKeySource, reinterpret_cast<LPOVERLAPPED>(t->token));
}

void CloseTimer(TimerSource* t) {
  // Stop it, cancel callbacks not yet started and wait for running ones: afterwards nothing can post.
  SetThreadpoolTimer(t->timer, nullptr, 0, 0);
  WaitForThreadpoolTimerCallbacks(t->timer, TRUE);
  CloseThreadpoolTimer(t->timer);
  delete t;
}

// A process-exit wait: the process handle plus a thread-pool wait (RegisterWaitForSingleObject, run once) whose
// callback posts (token, 1) to the port when the process is signalled (has exited).
struct ProcSource {
  HANDLE port;
  uintptr_t token;
  HANDLE process;
  HANDLE wait;
};

void CALLBACK ProcExited(PVOID context, BOOLEAN) {
  ProcSource* p = static_cast<ProcSource*>(context);
  PostQueuedCompletionStatus(p->port, 1, kKeySource, reinterpret_cast<LPOVERLAPPED>(p->token));
}

void CloseProc(ProcSource* p) {
  // INVALID_HANDLE_VALUE: cancel the wait and block until a callback already running has returned, so nothing
  // posts for this source afterwards and `p` can be freed.
  if (p->wait != nullptr) UnregisterWaitEx(p->wait, INVALID_HANDLE_VALUE);
  CloseHandle(p->process);
  delete p;
}

ULONG MaskFor(int32_t interest) {
  ULONG mask = kAfdPollAbort | kAfdPollConnectFail | kAfdPollLocalClose;
  if (interest & kInterestReadable) mask |= kAfdPollReceive | kAfdPollAccept | kAfdPollDisconnect;
  if (interest & kInterestWritable) mask |= kAfdPollSend;
  if (interest & kInterestPriority) mask |= kAfdPollReceiveExpedited;
  return mask;
}

constexpr ULONG kAfdReadBits = kAfdPollReceive | kAfdPollAccept | kAfdPollDisconnect | kAfdPollReceiveExpedited;
constexpr ULONG kAfdTerminalBits = kAfdPollAbort | kAfdPollConnectFail;

// The events of the next poll: the interest's, narrowed by the edge state for an EDGE registration.
ULONG DesiredMask(const SockState* s) {
  ULONG mask = MaskFor(s->interest);
  if (!(s->interest & kInterestEdge)) return mask;
  if (!s->edge_read) mask &= ~kAfdReadBits;
  if (!s->edge_write) mask &= ~kAfdPollSend;
  return mask & ~s->edge_spent;
}

// After an EDGE report of `events`: the directions that fired wait for a would-block (or reregister).
void EdgeReported(SockState* s, ULONG events) {
  if (events & kAfdReadBits) s->edge_read = false;
  if (events & kAfdPollSend) s->edge_write = false;
  if (events & kAfdTerminalBits) {
    s->edge_spent |= events & kAfdTerminalBits;
    s->edge_read = false;
    s->edge_write = false;
  }
}

int32_t Translate(ULONG events, int32_t interest) {
  int32_t flags = 0;
  if (events & (kAfdPollReceive | kAfdPollAccept)) flags |= kReadyReadable;
  if (events & kAfdPollDisconnect) flags |= kReadyReadable | kReadyReadHangup;
  if (events & kAfdPollReceiveExpedited) flags |= kReadyPriority;
  if (events & kAfdPollSend) flags |= kReadyWritable;
  if (events & kAfdPollAbort) flags |= kReadyReadable | kReadyWritable | kReadyHangup;
  if (events & kAfdPollConnectFail) flags |= kReadyWritable | kReadyHangup | kReadyError;
  int32_t allowed = kReadyHangup | kReadyError;
  if (interest & kInterestReadable) allowed |= kReadyReadable | kReadyReadHangup;
  if (interest & kInterestWritable) allowed |= kReadyWritable;
  if (interest & kInterestPriority) allowed |= kReadyPriority;
  return flags & allowed;
}

// The socket AFD knows about, below any layered service provider (wepoll's sequence).
DWORD BaseSocket(SOCKET sock, SOCKET* base) {
  // Is it a socket at all? Windows' SIO_BASE_HANDLE answers WSAENOTSOCK for other handles, but Wine 8 returns
  // any handle unchanged, and the AFD poll then fails with a misleading EBADF; SO_TYPE says ENOTSOCK on both.
  int type = 0;
  int len = sizeof(type);
  if (getsockopt(sock, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len) == SOCKET_ERROR) {
    return static_cast<DWORD>(WSAGetLastError());
  }
  const DWORD ioctls[] = {SIO_BASE_HANDLE, SIO_BSP_HANDLE_POLL, SIO_BSP_HANDLE_SELECT};
  DWORD error = 0;
  for (DWORD code : ioctls) {
    DWORD bytes = 0;
    SOCKET out = INVALID_SOCKET;
    if (WSAIoctl(sock, code, nullptr, 0, &out, sizeof(out), &bytes, nullptr, nullptr) != SOCKET_ERROR &&
        out != INVALID_SOCKET) {
      *base = out;
      return 0;
    }
    error = static_cast<DWORD>(WSAGetLastError());
    if (error == WSAENOTSOCK) break;  // not a socket at all: the fallbacks cannot help
  }
  return error;
}

uint64_t TokenKey(double token) { return static_cast<uint64_t>(token); }

}  // namespace

struct Core {
  napi_env env = nullptr;
  Poller* owner = nullptr;
  HANDLE port = nullptr;
  HANDLE thread = nullptr;
  HANDLE consumed = nullptr;  // auto-reset: the JS thread finished a batch
  napi_threadsafe_function tsfn = nullptr;
  napi_async_context async_context = nullptr;
  napi_ref on_events = nullptr;
  napi_ref self = nullptr;
  napi_ref batch_ref = nullptr;
  double* batch = nullptr;
  uint32_t batch_size = 0;

  // Hand-off: the poller thread writes `harvested` entries, then waits on `consumed` while the JS thread reads
  // them. Only one side touches these at a time.
  std::vector<OVERLAPPED_ENTRY> entries;
  ULONG harvested = 0;
  DWORD thread_error = 0;
  volatile LONG stopping = 0;

  // JS thread only.
  Registry* registry = nullptr;  // this environment's list of pollers (NoteWouldBlock)
  std::unordered_map<SOCKET, SockState*> sockets;
  std::unordered_set<SockState*> orphans;  // deregistered, poll still owned by the kernel
  std::vector<AfdGroup*> groups;
  std::vector<SockState*> rearm;
  std::unordered_map<uint64_t, IoOp*> io;
  // Every Op the kernel owns. A packet whose OVERLAPPED is not in here is not ours — for example libuv's stack
  // OVERLAPPED of a synchronous fs call on a handle also associated with this port — and is never dereferenced.
  std::unordered_set<Op*> owned;
  std::unordered_set<HANDLE> associated;
  std::unordered_map<uint64_t, TimerSource*> timers;
  std::unordered_map<uint64_t, ProcSource*> procs;
  std::unordered_map<int32_t, DirWatch*> dirs;
  std::unordered_set<DirWatch*> dir_orphans;  // removed, read still owned by the kernel
  int32_t next_dir_id = 1;
  size_t pending = 0;
  bool closed = false;
  bool hook_added = false;
};

namespace {

// An operation was handed to the kernel: count it, and remember its Op as ours (see Core::owned).
void Own(Core* c, Op* op) {
  c->owned.insert(op);
  c->pending++;
}

DWORD SubmitPoll(Core* c, SockState* s) {
  std::memset(&s->op.ov, 0, sizeof(s->op.ov));
  s->info.timeout.QuadPart = INT64_MAX;
  s->info.number_of_handles = 1;
  s->info.exclusive = FALSE;
  s->info.handles[0].handle = reinterpret_cast<HANDLE>(s->base);
  s->info.handles[0].events = DesiredMask(s);
  s->info.handles[0].status = 0;
  NTSTATUS status = NtDeviceIoControlFile(s->group->afd, nullptr, nullptr, &s->op.ov,
                                          reinterpret_cast<PIO_STATUS_BLOCK>(&s->op.ov), kIoctlAfdPoll, &s->info,
                                          sizeof(s->info), &s->info, sizeof(s->info));
  if (status != kStatusSuccess && status != kStatusPending) return NtStatusToWin32(status);
  s->mask = s->info.handles[0].events;
  s->op.pending = true;
  Own(c, &s->op);
  return 0;
}

// A poll that fails when re-armed after a batch cannot throw anywhere: report it as Ready.ERROR through a packet
// of our own, so it arrives like any other completion.
void SubmitOrReport(Core* c, SockState* s) {
  if (SubmitPoll(c, s) == 0) return;
  std::memset(&s->op.ov, 0, sizeof(s->op.ov));
  s->op.ov.Internal = static_cast<ULONG_PTR>(static_cast<ULONG>(0xC0000001L));  // STATUS_UNSUCCESSFUL
  s->failure = static_cast<NTSTATUS>(0xC0000001L);
  if (PostQueuedCompletionStatus(c->port, 0, kKeyIo, &s->op.ov)) {
    s->op.pending = true;
    Own(c, &s->op);
  } else {
    s->dead = true;
  }
}

DWORD AcquireGroup(Core* c, AfdGroup** out) {
  for (AfdGroup* g : c->groups) {
    if (g->users < kSocketsPerAfd) {
      g->users++;
      *out = g;
      return 0;
    }
  }
  // Any name below \Device\Afd opens a fresh AFD endpoint; the suffix only shows up in handle listings.
  wchar_t name[] = L"\\Device\\Afd\\fdloop";
  UNICODE_STRING uname;
  uname.Length = static_cast<USHORT>((sizeof(name) - sizeof(wchar_t)));
  uname.MaximumLength = static_cast<USHORT>(sizeof(name));
  uname.Buffer = name;
  OBJECT_ATTRIBUTES attr;
  InitializeObjectAttributes(&attr, &uname, 0, nullptr, nullptr);
  IO_STATUS_BLOCK iosb;
  HANDLE afd = nullptr;
  NTSTATUS status = NtCreateFile(&afd, SYNCHRONIZE, &attr, &iosb, nullptr, 0, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                 FILE_OPEN, 0, nullptr, 0);
  if (status != kStatusSuccess) return NtStatusToWin32(status);
  if (CreateIoCompletionPort(afd, c->port, kKeyIo, 0) == nullptr) {
    DWORD error = GetLastError();
    CloseHandle(afd);
    return error;
  }
  SetFileCompletionNotificationModes(afd, FILE_SKIP_SET_EVENT_ON_HANDLE);
  AfdGroup* g = new AfdGroup{afd, 1};
  c->groups.push_back(g);
  *out = g;
  return 0;
}

void FreeState(SockState* s) {
  s->group->users--;
  delete s;
}

void Queue(Core* c, SockState* s) {
  if (s->queued) return;
  s->queued = true;
  c->rearm.push_back(s);
}

void FreeIo(Core* c, IoOp* op) {
  napi_delete_reference(c->env, op->buffer);
  delete op;
}

// Takes one dequeued packet. With `batch`, writes the event it produces (if any) and returns 1 when it did;
// without (close() draining), only gives the memory back.
int Retire(Core* c, const OVERLAPPED_ENTRY& entry, double* batch) {
  if (entry.lpCompletionKey == kKeyPost || entry.lpCompletionKey == kKeySource) {
    if (batch == nullptr) return 0;
    batch[0] = static_cast<double>(reinterpret_cast<uintptr_t>(entry.lpOverlapped));
    batch[1] = static_cast<double>(entry.dwNumberOfBytesTransferred) +
               (entry.lpCompletionKey == kKeySource ? kSourceTag : 0);
    return 1;
  }
  if (entry.lpOverlapped == nullptr || entry.lpCompletionKey != kKeyIo) return 0;
  Op* op = reinterpret_cast<Op*>(entry.lpOverlapped);
  if (c->owned.erase(op) == 0) return 0;  // not one of ours: never touch its memory
  op->pending = false;
  c->pending--;
  NTSTATUS status = static_cast<NTSTATUS>(op->ov.Internal);

  if (op->kind == OpKind::kIo) {
    IoOp* io = reinterpret_cast<IoOp*>(op);
    if (batch == nullptr) return 0;  // close() frees what is left in c->io afterwards
    c->io.erase(TokenKey(io->token));
    double result;
    if (status >= 0 || (status == kStatusCancelled && entry.dwNumberOfBytesTransferred > 0)) {
      // A cancelled operation that had already moved bytes (a serial or pipe read with part of its data) reports
      // them: the bytes are in the buffer, and ECANCELED would lose them.
      result = static_cast<double>(entry.dwNumberOfBytesTransferred);
    } else {
      DWORD error = NtStatusToWin32(status);
      // End of file is a result, not an error: 0 bytes, as read(2) says it.
      result = !io->write && (error == ERROR_HANDLE_EOF || error == ERROR_BROKEN_PIPE) ? 0 : -static_cast<double>(error);
    }
    batch[0] = io->token;
    batch[1] = result;
    FreeIo(c, io);
    return 1;
  }

  if (op->kind == OpKind::kDirWatch) {
    DirWatch* w = reinterpret_cast<DirWatch*>(op);
    if (batch == nullptr) return 0;  // close() frees what is left in c->dirs afterwards
    if (w->removed) {
      c->dir_orphans.erase(w);
      delete w;
      return 0;
    }
    if (status >= 0) {
      if (entry.dwNumberOfBytesTransferred == 0) {
        w->overflow = true;  // more changes than the buffer holds: the kernel dropped them
      } else {
        ParseDirChanges(w, entry.dwNumberOfBytesTransferred);
      }
    } else {
      DWORD error = NtStatusToWin32(status);
      if (error == ERROR_NOTIFY_ENUM_DIR) {
        w->overflow = true;
      } else {
        w->dead = true;  // the directory was deleted (ERROR_ACCESS_DENIED / ERROR_DELETE_PENDING) or is gone
        w->queue.emplace_back(kDirActionGone, std::u16string());
      }
    }
    if (!w->dead) {
      if (IssueDirRead(w) == 0) {
        Own(c, &w->op);
      } else {
        w->dead = true;
        w->queue.emplace_back(kDirActionGone, std::u16string());
      }
    }
    batch[0] = w->token;
    batch[1] = kSourceTag;
    return 1;
  }

  SockState* s = reinterpret_cast<SockState*>(op);
  if (batch == nullptr) return 0;
  if (s->deleted) {
    c->orphans.erase(s);
    if (!s->queued) FreeState(s);
    return 0;
  }
  if (s->resubmit) {
    s->resubmit = false;
    Queue(c, s);
    return 0;
  }
  if (status == kStatusCancelled) {
    Queue(c, s);
    return 0;
  }
  int32_t flags;
  if (status < 0) {
    // The poll itself failed (or could not be re-armed): report it once; polling again would fail the same way.
    flags = kReadyError;
    s->dead = true;
  } else if (s->info.number_of_handles < 1) {
    Queue(c, s);
    return 0;
  } else {
    ULONG events = s->info.handles[0].events;
    if (events & kAfdPollLocalClose) {
      // The socket was closed while registered (against the contract's advice): nothing more will come.
      s->dead = true;
      return 0;
    }
    flags = Translate(events, s->interest);
    if (flags != 0 && (s->interest & kInterestEdge)) EdgeReported(s, events);
  }
  if (flags == 0) {
    if (!s->dead) Queue(c, s);
    return 0;
  }
  batch[0] = s->token;
  batch[1] = flags;
  if (s->interest & kInterestOneshot) {
    s->disarmed = true;
  } else if (!s->dead) {
    // Level-triggered emulation: AFD polls are one-shot; polling again at once reports the socket again while
    // the condition holds. An EDGE registration is polled again too, but without the directions that fired
    // (DesiredMask), so only what has not been reported yet (or a would-block re-armed) can wake it.
    Queue(c, s);
  }
  return 1;
}

void CloseCore(Core* c, bool from_hook);

void CallOnEvents(Core* c, int32_t count) {
  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value resource, fn, arg, recv, result;
  napi_callback_scope cb_scope = nullptr;
  bool ok = napi_get_reference_value(env, c->self, &resource) == napi_ok &&
            napi_open_callback_scope(env, resource, c->async_context, &cb_scope) == napi_ok &&
            napi_get_reference_value(env, c->on_events, &fn) == napi_ok &&
            napi_create_int32(env, count, &arg) == napi_ok && napi_get_undefined(env, &recv) == napi_ok;
  if (ok) {
    if (napi_call_function(env, recv, fn, 1, &arg, &result) == napi_pending_exception) {
      // The runtime's sink catches handler errors itself; anything that still escapes is rethrown to Node as
      // an uncaught exception, as an exception from any other I/O callback would be.
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  if (cb_scope != nullptr) napi_close_callback_scope(env, cb_scope);
  napi_close_handle_scope(env, scope);
}

void Dispatch(Core* c, ULONG n) {
  int32_t count = 0;
  for (ULONG i = 0; i < n; i++) {
    count += Retire(c, c->entries[i], c->batch + 2 * count);
  }
  if (count > 0) {
    CallOnEvents(c, count);
    if (c->closed) return;  // close() inside a callback already released everything
  }
  std::vector<SockState*> rearm;
  rearm.swap(c->rearm);
  for (SockState* s : rearm) {
    s->queued = false;
    if (s->deleted) {
      if (!s->op.pending) FreeState(s);
      continue;
    }
    if (!s->dead && !s->disarmed && !s->op.pending) SubmitOrReport(c, s);
  }
}

void CallJs(napi_env env, napi_value, void* context, void*) {
  Core* c = static_cast<Core*>(context);
  if (env == nullptr || c->closed) return;
  ULONG n = c->harvested;
  c->harvested = 0;
  if (c->thread_error != 0) {
    DWORD error = c->thread_error;
    c->thread_error = 0;
    CallOnEvents(c, -static_cast<int32_t>(error));
    return;
  }
  Dispatch(c, n);
  if (!c->closed) SetEvent(c->consumed);
}

DWORD WINAPI ThreadMain(void* arg) {
  Core* c = static_cast<Core*>(arg);
  const ULONG capacity = static_cast<ULONG>(c->entries.size());
  for (;;) {
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(c->port, c->entries.data(), capacity, &n, INFINITE, FALSE)) {
      c->thread_error = GetLastError();
      c->harvested = 0;
      napi_call_threadsafe_function(c->tsfn, nullptr, napi_tsfn_nonblocking);
      return 0;
    }
    bool stop = false;
    ULONG kept = 0;
    for (ULONG i = 0; i < n; i++) {
      if (c->entries[i].lpCompletionKey == kKeyStop) {
        stop = true;
      } else {
        c->entries[kept++] = c->entries[i];
      }
    }
    c->harvested = kept;
    if (stop || InterlockedCompareExchange(&c->stopping, 0, 0) != 0) return 0;
    if (kept == 0) continue;
    if (napi_call_threadsafe_function(c->tsfn, nullptr, napi_tsfn_nonblocking) != napi_ok) return 0;
    WaitForSingleObject(c->consumed, INFINITE);
    if (InterlockedCompareExchange(&c->stopping, 0, 0) != 0) return 0;
  }
}

void FinalizeCore(napi_env, void* data, void*) { delete static_cast<Core*>(data); }

void CleanupHook(void* arg) { CloseCore(static_cast<Core*>(arg), true); }

void CloseCore(Core* c, bool from_hook) {
  if (c->closed) return;
  c->closed = true;
  napi_env env = c->env;
  if (c->registry != nullptr) {
    c->registry->cores.erase(c);
    ReleaseRegistry(c->registry);
    c->registry = nullptr;
  }

  // 0. Timers first: once CloseTimer returns, no thread-pool callback can post to the port.
  for (auto& it : c->timers) CloseTimer(it.second);
  c->timers.clear();
  for (auto& it : c->procs) CloseProc(it.second);
  c->procs.clear();

  // 1. Stop the poller thread. It is either in GetQueuedCompletionStatusEx (the stop packet wakes it) or waiting
  //    for us to consume a batch (the event wakes it).
  InterlockedExchange(&c->stopping, 1);
  PostQueuedCompletionStatus(c->port, 0, kKeyStop, nullptr);
  SetEvent(c->consumed);
  WaitForSingleObject(c->thread, INFINITE);
  CloseHandle(c->thread);

  // 2. Packets the thread harvested that JS never saw: their memory comes back to us now.
  for (ULONG i = 0; i < c->harvested; i++) Retire(c, c->entries[i], nullptr);
  c->harvested = 0;

  // 3. Cancel what the kernel still owns and wait for each cancelled operation's packet. Freeing an OVERLAPPED
  //    before its packet arrives would let the kernel write into freed memory.
  for (auto& it : c->sockets) {
    if (it.second->op.pending) CancelIoEx(it.second->group->afd, &it.second->op.ov);
  }
  for (SockState* s : c->orphans) {
    if (s->op.pending) CancelIoEx(s->group->afd, &s->op.ov);
  }
  for (auto& it : c->io) {
    if (it.second->op.pending) CancelIoEx(it.second->handle, &it.second->op.ov);
  }
  for (auto& it : c->dirs) {
    if (it.second->op.pending) CancelIoEx(it.second->dir, &it.second->op.ov);
  }
  ULONGLONG deadline = GetTickCount64() + kDrainMillis;
  OVERLAPPED_ENTRY drained[64];
  while (c->pending > 0 && GetTickCount64() < deadline) {
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(c->port, drained, 64, &n, 100, FALSE)) continue;
    for (ULONG i = 0; i < n; i++) Retire(c, drained[i], nullptr);
  }

  // 4. Free what came back; leak (never free) anything the kernel did not return in time.
  for (SockState* s : c->rearm) {
    if (s->deleted && !s->op.pending) FreeState(s);
  }
  c->rearm.clear();
  for (auto& it : c->sockets) {
    if (!it.second->op.pending) FreeState(it.second);
  }
  c->sockets.clear();
  for (SockState* s : c->orphans) {
    if (!s->op.pending) FreeState(s);
  }
  c->orphans.clear();
  for (auto& it : c->io) {
    if (!it.second->op.pending) FreeIo(c, it.second);
  }
  c->io.clear();
  for (auto& it : c->dirs) {
    CloseHandle(it.second->dir);
    if (!it.second->op.pending) delete it.second;
  }
  c->dirs.clear();
  for (DirWatch* w : c->dir_orphans) {
    if (!w->op.pending) delete w;
  }
  c->dir_orphans.clear();
  for (AfdGroup* g : c->groups) {
    CloseHandle(g->afd);
    if (g->users == 0) delete g;  // a group with leaked sockets stays allocated with them
  }
  c->groups.clear();
  CloseHandle(c->port);
  CloseHandle(c->consumed);

  if (!from_hook && c->hook_added) napi_remove_env_cleanup_hook(env, CleanupHook, c);
  napi_delete_reference(env, c->on_events);
  napi_delete_reference(env, c->batch_ref);
  napi_delete_reference(env, c->self);
  napi_async_destroy(env, c->async_context);
  if (c->owner != nullptr) c->owner->Detach();
  c->owner = nullptr;
  napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);  // FinalizeCore deletes c once the queue is empty
}

}  // namespace

Napi::Function Poller::Define(Napi::Env env, Registry* registry) {
  return DefineClass(env, "Poller",
                     {
                         InstanceMethod<&Poller::Add>("add"),
                         InstanceMethod<&Poller::Mod>("mod"),
                         InstanceMethod<&Poller::Del>("del"),
                         InstanceMethod<&Poller::Read>("read"),
                         InstanceMethod<&Poller::Write>("write"),
                         InstanceMethod<&Poller::Cancel>("cancel"),
                         InstanceMethod<&Poller::Post>("post"),
                         InstanceMethod<&Poller::PostSource>("postSource"),
                         InstanceMethod<&Poller::TimerCreate>("timerCreate"),
                         InstanceMethod<&Poller::TimerSet>("timerSet"),
                         InstanceMethod<&Poller::TimerClose>("timerClose"),
                         InstanceMethod<&Poller::ProcOpen>("procOpen"),
                         InstanceMethod<&Poller::ProcExitCode>("procExitCode"),
                         InstanceMethod<&Poller::ProcClose>("procClose"),
                         InstanceMethod<&Poller::Port>("port"),
                         InstanceMethod<&Poller::DirAdd>("dirAdd"),
                         InstanceMethod<&Poller::DirRemove>("dirRemove"),
                         InstanceMethod<&Poller::DirTake>("dirTake"),
                         InstanceMethod<&Poller::Stats>("stats"),
                         InstanceMethod<&Poller::Ref>("ref"),
                         InstanceMethod<&Poller::Unref>("unref"),
                         InstanceMethod<&Poller::Close>("close"),
                     },
                     registry);
}

namespace {

Napi::Value ThrowSys(Napi::Env env, DWORD error, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed with Windows error " + std::to_string(error));
  e.Set("errno", Napi::Number::New(env, static_cast<double>(error)));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

// new Poller(batchSize, onEvents)
Poller::Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "new Poller(batchSize, onEvents)").ThrowAsJavaScriptException();
    return;
  }
  uint32_t batch_size = info[0].As<Napi::Number>().Uint32Value();
  if (batch_size < 1) batch_size = 1;
  Core* c = new Core();
  c->env = env;
  c->batch_size = batch_size;
  c->entries.resize(batch_size < 1024 ? batch_size : 1024);
  c->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (c->port == nullptr) {
    DWORD error = GetLastError();
    delete c;
    ThrowSys(env, error, "CreateIoCompletionPort");
    return;
  }
  c->consumed = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  if (c->consumed == nullptr) {
    DWORD error = GetLastError();
    CloseHandle(c->port);
    delete c;
    ThrowSys(env, error, "CreateEventW");
    return;
  }
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, sizeof(double) * 2 * batch_size);
  c->batch = static_cast<double*>(buffer.Data());
  Napi::Float64Array events = Napi::Float64Array::New(env, 2 * batch_size, buffer, 0);
  Value().Set("events", events);
  napi_create_reference(env, buffer, 1, &c->batch_ref);
  napi_create_reference(env, info[1], 1, &c->on_events);
  napi_create_reference(env, Value(), 1, &c->self);  // open pollers are never collected
  napi_value name;
  napi_create_string_utf8(env, "fdloop.iocp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, Value(), name, &c->async_context);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, FinalizeCore, c, CallJs, &c->tsfn) !=
      napi_ok) {
    napi_delete_reference(env, c->batch_ref);
    napi_delete_reference(env, c->on_events);
    napi_delete_reference(env, c->self);
    napi_async_destroy(env, c->async_context);
    CloseHandle(c->consumed);
    CloseHandle(c->port);
    delete c;
    Napi::Error::New(env, "napi_create_threadsafe_function failed").ThrowAsJavaScriptException();
    return;
  }
  napi_unref_threadsafe_function(env, c->tsfn);
  c->thread = CreateThread(nullptr, 64 * 1024, ThreadMain, c, 0, nullptr);
  if (c->thread == nullptr) {
    DWORD error = GetLastError();
    napi_delete_reference(env, c->batch_ref);
    napi_delete_reference(env, c->on_events);
    napi_delete_reference(env, c->self);
    napi_async_destroy(env, c->async_context);
    CloseHandle(c->consumed);
    CloseHandle(c->port);
    c->closed = true;
    napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);  // FinalizeCore deletes c
    ThrowSys(env, error, "CreateThread");
    return;
  }
  // Registered after the thread-safe function, so it runs before Node's own teardown of that function.
  c->hook_added = napi_add_env_cleanup_hook(env, CleanupHook, c) == napi_ok;
  c->registry = static_cast<Registry*>(info.Data());
  if (c->registry != nullptr) {
    c->registry->refs++;
    c->registry->cores.insert(c);
  }
  c->owner = this;
  core_ = c;
}

Poller::~Poller() {
  if (core_ != nullptr) {
    core_->owner = nullptr;
    CloseCore(core_, false);
  }
}

// add(socket, token, interest) -> 0 or a Win32 error code (positive)
Napi::Value Poller::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  SOCKET sock = static_cast<SOCKET>(info[0].As<Napi::Number>().Int64Value());
  double token = info[1].As<Napi::Number>().DoubleValue();
  int32_t interest = info[2].As<Napi::Number>().Int32Value();
  if (c->sockets.count(sock) != 0) return Napi::Number::New(env, ERROR_ALREADY_EXISTS);
  DWORD handle_flags = 0;
  // A closed handle is EBADF; an open handle that is not a socket is ENOTSOCK (from SIO_BASE_HANDLE below).
  if (!GetHandleInformation(reinterpret_cast<HANDLE>(sock), &handle_flags)) {
    return Napi::Number::New(env, GetLastError());
  }
  SOCKET base = INVALID_SOCKET;
  DWORD error = BaseSocket(sock, &base);
  if (error != 0) return Napi::Number::New(env, error);
  AfdGroup* group = nullptr;
  error = AcquireGroup(c, &group);
  if (error != 0) return Napi::Number::New(env, error);
  SockState* s = new SockState();
  s->op.kind = OpKind::kAfdPoll;
  s->sock = sock;
  s->base = base;
  s->group = group;
  s->token = token;
  s->interest = interest;
  s->edge_read = true;
  s->edge_write = true;
  error = SubmitPoll(c, s);
  if (error != 0) {
    FreeState(s);
    return Napi::Number::New(env, error);
  }
  c->sockets.emplace(sock, s);
  return Napi::Number::New(env, 0);
}

// mod(socket, token, interest) -> 0 or a Win32 error code
Napi::Value Poller::Mod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  SOCKET sock = static_cast<SOCKET>(info[0].As<Napi::Number>().Int64Value());
  auto it = c->sockets.find(sock);
  if (it == c->sockets.end()) return Napi::Number::New(env, ERROR_NOT_FOUND);
  SockState* s = it->second;
  if (s->dead) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  s->token = info[1].As<Napi::Number>().DoubleValue();
  s->interest = info[2].As<Napi::Number>().Int32Value();
  s->disarmed = false;
  // reregister re-arms an EDGE registration in every direction, as epoll_ctl(EPOLL_CTL_MOD) does.
  s->edge_read = true;
  s->edge_write = true;
  s->edge_spent = 0;
  if (s->op.pending) {
    // A pending poll for the same events keeps going (its report will carry the new token); otherwise it is
    // cancelled and submitted again when the kernel returns it.
    if (s->mask != DesiredMask(s) && !s->resubmit) {
      s->resubmit = true;
      CancelIoEx(s->group->afd, &s->op.ov);
    }
  } else if (!s->queued) {
    DWORD error = SubmitPoll(c, s);
    if (error != 0) return Napi::Number::New(env, error);
  }
  return Napi::Number::New(env, 0);
}

// del(socket) -> 0 or a Win32 error code
Napi::Value Poller::Del(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  SOCKET sock = static_cast<SOCKET>(info[0].As<Napi::Number>().Int64Value());
  auto it = c->sockets.find(sock);
  if (it == c->sockets.end()) return Napi::Number::New(env, ERROR_NOT_FOUND);
  SockState* s = it->second;
  c->sockets.erase(it);
  s->deleted = true;
  if (s->op.pending) {
    c->orphans.insert(s);
    CancelIoEx(s->group->afd, &s->op.ov);
  } else if (!s->queued) {
    FreeState(s);
  }
  return Napi::Number::New(env, 0);
}

namespace {

// read/write(handle, buffer, offset, length, position, token) -> 0 or a Win32 error code. On 0 exactly one
// (token, result) pair will be delivered: bytes transferred, or minus a Win32 error code.
Napi::Value StartIo(Core* c, const Napi::CallbackInfo& info, bool write) {
  Napi::Env env = info.Env();
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  HANDLE handle = reinterpret_cast<HANDLE>(static_cast<intptr_t>(info[0].As<Napi::Number>().Int64Value()));
  Napi::TypedArray array = info[1].As<Napi::TypedArray>();
  uint32_t offset = info[2].As<Napi::Number>().Uint32Value();
  uint32_t length = info[3].As<Napi::Number>().Uint32Value();
  double position = info[4].As<Napi::Number>().DoubleValue();
  double token = info[5].As<Napi::Number>().DoubleValue();
  if (c->io.count(TokenKey(token)) != 0) return Napi::Number::New(env, ERROR_ALREADY_EXISTS);
  DWORD handle_flags = 0;
  if (!GetHandleInformation(handle, &handle_flags)) return Napi::Number::New(env, GetLastError());
  // A handle opened without FILE_FLAG_OVERLAPPED would make ReadFile block this thread.
  IO_STATUS_BLOCK iosb;
  ULONG mode = 0;
  NTSTATUS status = NtQueryInformationFile(handle, &iosb, &mode, sizeof(mode), static_cast<FILE_INFORMATION_CLASS>(16));
  if (status != kStatusSuccess) return Napi::Number::New(env, NtStatusToWin32(status));
  if (mode & (0x10 | 0x20)) return Napi::Number::New(env, ERROR_INVALID_PARAMETER);  // FILE_SYNCHRONOUS_IO_*
  if (CreateIoCompletionPort(handle, c->port, kKeyIo, 0) != nullptr) {
    c->associated.insert(handle);
    SetFileCompletionNotificationModes(handle, FILE_SKIP_SET_EVENT_ON_HANDLE);
  } else {
    DWORD error = GetLastError();
    // Associating twice fails with ERROR_INVALID_PARAMETER; for a handle we associated that is expected.
    if (!(error == ERROR_INVALID_PARAMETER && c->associated.count(handle) != 0)) return Napi::Number::New(env, error);
  }
  IoOp* op = new IoOp();
  op->op.kind = OpKind::kIo;
  op->token = token;
  op->handle = handle;
  op->write = write;
  if (position >= 0) {
    uint64_t pos = static_cast<uint64_t>(position);
    op->op.ov.Offset = static_cast<DWORD>(pos & 0xffffffffu);
    op->op.ov.OffsetHigh = static_cast<DWORD>(pos >> 32);
  }
  napi_create_reference(env, array, 1, &op->buffer);
  uint8_t* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset() + offset;
  BOOL ok = write ? WriteFile(handle, data, length, nullptr, &op->op.ov) : ReadFile(handle, data, length, nullptr, &op->op.ov);
  if (!ok) {
    DWORD error = GetLastError();
    if (error != ERROR_IO_PENDING) {
      if (!write && (error == ERROR_HANDLE_EOF || error == ERROR_BROKEN_PIPE)) {
        // End of file found synchronously: no packet is queued for a failed call, so queue the result ourselves
        // and it arrives like every other completion.
        op->op.ov.Internal = 0;
        if (!PostQueuedCompletionStatus(c->port, 0, kKeyIo, &op->op.ov)) {
          error = GetLastError();
          FreeIo(c, op);
          return Napi::Number::New(env, error);
        }
      } else {
        FreeIo(c, op);
        return Napi::Number::New(env, error);
      }
    }
  }
  op->op.pending = true;
  Own(c, &op->op);
  c->io.emplace(TokenKey(token), op);
  return Napi::Number::New(env, 0);
}

}  // namespace

Napi::Value Poller::Read(const Napi::CallbackInfo& info) { return StartIo(core_, info, false); }

Napi::Value Poller::Write(const Napi::CallbackInfo& info) { return StartIo(core_, info, true); }

// cancel(token) -> 0 (cancellation requested, or the operation already finished and its result is queued) or
// ERROR_NOT_FOUND for a token with no operation in flight.
Napi::Value Poller::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  auto it = c->io.find(TokenKey(info[0].As<Napi::Number>().DoubleValue()));
  if (it == c->io.end()) return Napi::Number::New(env, ERROR_NOT_FOUND);
  // ERROR_NOT_FOUND from CancelIoEx means the operation completed and its packet is queued: nothing to do.
  // Either way the OVERLAPPED stays ours only after that packet is dequeued.
  CancelIoEx(it->second->handle, &it->second->op.ov);
  return Napi::Number::New(env, 0);
}

namespace {

Napi::Value PostPacket(Core* c, const Napi::CallbackInfo& info, ULONG_PTR key) {
  Napi::Env env = info.Env();
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  uintptr_t token = static_cast<uintptr_t>(info[0].As<Napi::Number>().DoubleValue());
  DWORD value = static_cast<DWORD>(info[1].As<Napi::Number>().Uint32Value());
  if (!PostQueuedCompletionStatus(c->port, value, key, reinterpret_cast<LPOVERLAPPED>(token))) {
    return Napi::Number::New(env, GetLastError());
  }
  return Napi::Number::New(env, 0);
}

}  // namespace

// post(token, value) -> 0 or a Win32 error code: queue (token, value) through PostQueuedCompletionStatus.
Napi::Value Poller::Post(const Napi::CallbackInfo& info) { return PostPacket(core_, info, kKeyPost); }

// postSource(token, value) -> 0 or an error code: the same, delivered as a source packet (value + 2^32).
Napi::Value Poller::PostSource(const Napi::CallbackInfo& info) { return PostPacket(core_, info, kKeySource); }

// port() -> the completion port's handle value, for notifiers triggered from other threads (sys.postToPort).
Napi::Value Poller::Port(const Napi::CallbackInfo& info) {
  Core* c = core_;
  return Napi::Number::New(info.Env(), c == nullptr ? -1 : static_cast<double>(reinterpret_cast<uintptr_t>(c->port)));
}

// timerCreate(token) -> 0 or an error code: a disarmed thread-pool timer reporting `token`.
Napi::Value Poller::TimerCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  double token = info[0].As<Napi::Number>().DoubleValue();
  if (c->timers.count(TokenKey(token)) != 0) return Napi::Number::New(env, ERROR_ALREADY_EXISTS);
  TimerSource* t = new TimerSource{c->port, static_cast<uintptr_t>(token), 0, nullptr};
  t->timer = CreateThreadpoolTimer(TimerFired, t, nullptr);
  if (t->timer == nullptr) {
    DWORD error = GetLastError();
    delete t;
    return Napi::Number::New(env, error);
  }
  c->timers.emplace(TokenKey(token), t);
  return Napi::Number::New(env, 0);
}

// timerSet(token, dueMs, absoluteRealtime, periodMs) -> the new generation (> 0), or minus an error code.
// dueMs < 0 disarms. Relative due times are milliseconds from now; absolute ones milliseconds since the Unix
// epoch (UTC), converted to a FILETIME.
Napi::Value Poller::TimerSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, -static_cast<double>(ERROR_INVALID_HANDLE));
  auto it = c->timers.find(TokenKey(info[0].As<Napi::Number>().DoubleValue()));
  if (it == c->timers.end()) return Napi::Number::New(env, -static_cast<double>(ERROR_NOT_FOUND));
  TimerSource* t = it->second;
  double due_ms = info[1].As<Napi::Number>().DoubleValue();
  bool absolute = info[2].As<Napi::Boolean>().Value();
  double period_ms = info[3].As<Napi::Number>().DoubleValue();
  // Stop the old setting and its queued callbacks before the generation changes.
  SetThreadpoolTimer(t->timer, nullptr, 0, 0);
  WaitForThreadpoolTimerCallbacks(t->timer, TRUE);
  LONG gen = InterlockedIncrement(&t->gen);
  if (gen <= 0) {  // wrapped: generations stay positive (0 is the "kick" value of a resume)
    InterlockedExchange(&t->gen, 1);
    gen = 1;
  }
  if (due_ms >= 0) {
    int64_t ticks;  // 100 ns units
    if (absolute) {
      ticks = static_cast<int64_t>((due_ms + 11644473600000.0) * 10000.0);
    } else {
      ticks = -static_cast<int64_t>(due_ms * 10000.0);
      if (ticks == 0) ticks = -1;
    }
    FILETIME ft;
    ft.dwLowDateTime = static_cast<DWORD>(static_cast<uint64_t>(ticks) & 0xffffffffu);
    ft.dwHighDateTime = static_cast<DWORD>(static_cast<uint64_t>(ticks) >> 32);
    DWORD period = period_ms <= 0 ? 0 : period_ms < 1 ? 1 : static_cast<DWORD>(period_ms + 0.5);
    SetThreadpoolTimer(t->timer, &ft, period, 0);
  }
  return Napi::Number::New(env, gen);
}

// dirAdd(path, recursive, token) -> a watch id (> 0) or minus an error code. A directory is watched itself
// (recursively if asked); a file through its directory, keeping only records of its name (never recursive).
Napi::Value Poller::DirAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, -static_cast<double>(ERROR_INVALID_HANDLE));
  std::u16string path = info[0].As<Napi::String>().Utf16Value();
  bool recursive = info[1].As<Napi::Boolean>().Value();
  double token = info[2].As<Napi::Number>().DoubleValue();
  const wchar_t* wpath = reinterpret_cast<const wchar_t*>(path.c_str());
  DWORD attributes = GetFileAttributesW(wpath);
  if (attributes == INVALID_FILE_ATTRIBUTES) return Napi::Number::New(env, -static_cast<double>(GetLastError()));
  std::u16string file_name;
  std::wstring parent;
  if (!(attributes & FILE_ATTRIBUTE_DIRECTORY)) {
    // A file: split its full path into the directory to watch and the name to keep.
    DWORD size = GetFullPathNameW(wpath, 0, nullptr, nullptr);
    if (size == 0) return Napi::Number::New(env, -static_cast<double>(GetLastError()));
    std::wstring full(size, L'\0');
    wchar_t* name_part = nullptr;
    size = GetFullPathNameW(wpath, size, &full[0], &name_part);
    if (size == 0 || name_part == nullptr || *name_part == L'\0') {
      return Napi::Number::New(env, -static_cast<double>(size == 0 ? GetLastError() : ERROR_INVALID_NAME));
    }
    full.resize(size);
    size_t cut = static_cast<size_t>(name_part - full.data());
    file_name.assign(reinterpret_cast<const char16_t*>(name_part), full.size() - cut);
    parent = full.substr(0, cut);
    wpath = parent.c_str();
    recursive = false;
  }
  HANDLE dir = CreateFileW(wpath, FILE_LIST_DIRECTORY, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, nullptr);
  if (dir == INVALID_HANDLE_VALUE) return Napi::Number::New(env, -static_cast<double>(GetLastError()));
  if (CreateIoCompletionPort(dir, c->port, kKeyIo, 0) == nullptr) {
    DWORD error = GetLastError();
    CloseHandle(dir);
    return Napi::Number::New(env, -static_cast<double>(error));
  }
  DirWatch* w = new DirWatch();
  w->op.kind = OpKind::kDirWatch;
  w->dir = dir;
  w->token = token;
  w->id = c->next_dir_id++;
  w->recursive = recursive;
  w->file_name = std::move(file_name);
  DWORD error = IssueDirRead(w);
  if (error != 0) {
    CloseHandle(dir);
    delete w;
    return Napi::Number::New(env, -static_cast<double>(error));
  }
  Own(c, &w->op);
  c->dirs.emplace(w->id, w);
  return Napi::Number::New(env, w->id);
}

// dirRemove(id) -> 0 (unknown ids are ignored, as the contract asks)
Napi::Value Poller::DirRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, 0);
  auto it = c->dirs.find(info[0].As<Napi::Number>().Int32Value());
  if (it == c->dirs.end()) return Napi::Number::New(env, 0);
  DirWatch* w = it->second;
  c->dirs.erase(it);
  // Closing the directory cancels the pending read; its packet still comes, and only then is the memory freed.
  CloseHandle(w->dir);
  if (w->op.pending) {
    w->removed = true;
    c->dir_orphans.insert(w);
  } else {
    delete w;
  }
  return Napi::Number::New(env, 0);
}

// dirTake(token) -> [id, action, name, id, action, name, …]: every queued change of the set's watches, in
// order per watch. Action: FILE_ACTION_* (1 added, 2 removed, 3 modified, 4 renamed from, 5 renamed to),
// 0 for an overflow, 100 when the watched directory itself went away; for a watched file 101 changed,
// 102 deleted (or replaced), 103 renamed away (name '').
Napi::Value Poller::DirTake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  Core* c = core_;
  if (c == nullptr) return out;
  double token = info[0].As<Napi::Number>().DoubleValue();
  uint32_t n = 0;
  for (auto& it : c->dirs) {
    DirWatch* w = it.second;
    if (w->token != token) continue;
    if (w->overflow) {
      out.Set(n++, Napi::Number::New(env, w->id));
      out.Set(n++, Napi::Number::New(env, 0));
      out.Set(n++, Napi::String::New(env, ""));
      w->overflow = false;
    }
    for (auto& change : w->queue) {
      out.Set(n++, Napi::Number::New(env, w->id));
      out.Set(n++, Napi::Number::New(env, change.first));
      out.Set(n++, Napi::String::New(env, change.second));
    }
    w->queue.clear();
  }
  return out;
}

// timerClose(token) -> 0 or ERROR_NOT_FOUND
Napi::Value Poller::TimerClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, 0);
  auto it = c->timers.find(TokenKey(info[0].As<Napi::Number>().DoubleValue()));
  if (it == c->timers.end()) return Napi::Number::New(env, ERROR_NOT_FOUND);
  CloseTimer(it->second);
  c->timers.erase(it);
  return Napi::Number::New(env, 0);
}

// procOpen(pid, token) -> 0 or an error code (ERROR_INVALID_PARAMETER: no such process): opens the process with
// SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION and registers a one-shot wait that posts (token, 1) on exit.
Napi::Value Poller::ProcOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, ERROR_INVALID_HANDLE);
  DWORD pid = static_cast<DWORD>(info[0].As<Napi::Number>().DoubleValue());
  double token = info[1].As<Napi::Number>().DoubleValue();
  if (c->procs.count(TokenKey(token)) != 0) return Napi::Number::New(env, ERROR_ALREADY_EXISTS);
  HANDLE process = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (process == nullptr) return Napi::Number::New(env, GetLastError());
  ProcSource* p = new ProcSource{c->port, static_cast<uintptr_t>(token), process, nullptr};
  if (!RegisterWaitForSingleObject(&p->wait, process, ProcExited, p, INFINITE, WT_EXECUTEONLYONCE)) {
    DWORD error = GetLastError();
    p->wait = nullptr;
    CloseProc(p);
    return Napi::Number::New(env, error);
  }
  c->procs.emplace(TokenKey(token), p);
  return Napi::Number::New(env, 0);
}

// procExitCode(token) -> the exit code (an unsigned 32-bit value; STILL_ACTIVE while running) or minus an error
// code.
Napi::Value Poller::ProcExitCode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, -static_cast<double>(ERROR_INVALID_HANDLE));
  auto it = c->procs.find(TokenKey(info[0].As<Napi::Number>().DoubleValue()));
  if (it == c->procs.end()) return Napi::Number::New(env, -static_cast<double>(ERROR_NOT_FOUND));
  DWORD code = 0;
  if (!GetExitCodeProcess(it->second->process, &code)) return Napi::Number::New(env, -static_cast<double>(GetLastError()));
  return Napi::Number::New(env, static_cast<double>(code));
}

// procClose(token) -> 0 or ERROR_NOT_FOUND: unregisters the wait (waiting for a running callback) and closes the
// process handle.
Napi::Value Poller::ProcClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Core* c = core_;
  if (c == nullptr) return Napi::Number::New(env, 0);
  auto it = c->procs.find(TokenKey(info[0].As<Napi::Number>().DoubleValue()));
  if (it == c->procs.end()) return Napi::Number::New(env, ERROR_NOT_FOUND);
  CloseProc(it->second);
  c->procs.erase(it);
  return Napi::Number::New(env, 0);
}

// stats() -> { sockets, afdHandles, pending, io }: bookkeeping, for tests and diagnostics.
Napi::Value Poller::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Core* c = core_;
  out.Set("sockets", Napi::Number::New(env, c ? static_cast<double>(c->sockets.size()) : 0));
  out.Set("afdHandles", Napi::Number::New(env, c ? static_cast<double>(c->groups.size()) : 0));
  out.Set("pending", Napi::Number::New(env, c ? static_cast<double>(c->pending) : 0));
  out.Set("io", Napi::Number::New(env, c ? static_cast<double>(c->io.size()) : 0));
  return out;
}

void Poller::Ref(const Napi::CallbackInfo& info) {
  if (core_ != nullptr) napi_ref_threadsafe_function(info.Env(), core_->tsfn);
}

void Poller::Unref(const Napi::CallbackInfo& info) {
  if (core_ != nullptr) napi_unref_threadsafe_function(info.Env(), core_->tsfn);
}

void NoteWouldBlock(Registry* registry, SOCKET sock, int direction) {
  if (registry == nullptr) return;
  for (Core* c : registry->cores) {
    if (c->closed) continue;
    auto it = c->sockets.find(sock);
    if (it == c->sockets.end()) continue;
    SockState* s = it->second;
    if (!(s->interest & kInterestEdge) || s->dead || s->deleted) continue;
    bool changed = false;
    if ((direction & kBlockedRead) && !s->edge_read) {
      s->edge_read = true;
      changed = true;
    }
    if ((direction & kBlockedWrite) && !s->edge_write) {
      s->edge_write = true;
      changed = true;
    }
    // A fired ONESHOT stays disarmed (reregister re-arms it); a poll queued for re-submission picks up the mask.
    if (!changed || s->disarmed || s->queued) continue;
    if (s->op.pending) {
      // The pending poll lacks the re-armed direction: cancel it and submit the new mask when it comes back.
      if (s->mask != DesiredMask(s) && !s->resubmit) {
        s->resubmit = true;
        CancelIoEx(s->group->afd, &s->op.ov);
      }
    } else {
      SubmitOrReport(c, s);
    }
  }
}

void Poller::Close(const Napi::CallbackInfo&) {
  if (core_ == nullptr) return;
  Core* c = core_;
  core_ = nullptr;
  c->owner = nullptr;
  CloseCore(c, false);
}

}  // namespace fdloop_iocp
