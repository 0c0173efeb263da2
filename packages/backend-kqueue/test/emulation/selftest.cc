// Checks the kqueue emulation itself against kqueue(2) semantics, on real pipes and socketpairs. Built with the
// emulated addon (CMakeLists.txt) and run by test/emulation.test.ts; prints one line per check and exits non-zero
// on the first failure.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kqueue_emu.h"

namespace {

int checks = 0;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    ++checks;                                                                       \
    if (!(cond)) {                                                                  \
      std::printf("not ok %d - %s (line %d, errno %d)\n", checks, #cond, __LINE__, errno); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

const struct timespec kZero = {0, 0};

int Change(int kq, int fd, int16_t filter, uint16_t flags, void* udata = nullptr) {
  struct kevent change;
  struct kevent receipt;
  EV_SET(&change, static_cast<uintptr_t>(fd), filter, flags | EV_RECEIPT, 0, 0, udata);
  const int n = kevent(kq, &change, 1, &receipt, 1, &kZero);
  if (n != 1 || (receipt.flags & EV_ERROR) == 0) return -1000;
  return static_cast<int>(receipt.data);
}

int Poll(int kq, struct kevent* out, int n) { return kevent(kq, nullptr, 0, out, n, &kZero); }

// Waits up to two seconds for something (for events that come from elsewhere: a timer, a process).
int Wait(int kq, struct kevent* out, int n) {
  const struct timespec two = {2, 0};
  return kevent(kq, nullptr, 0, out, n, &two);
}

int Source(int kq, uintptr_t ident, int16_t filter, uint16_t flags, uint32_t fflags, intptr_t data) {
  struct kevent change;
  struct kevent receipt;
  EV_SET(&change, ident, filter, flags | EV_RECEIPT, fflags, data, nullptr);
  const int n = kevent(kq, &change, 1, &receipt, 1, &kZero);
  if (n != 1 || (receipt.flags & EV_ERROR) == 0) return -1000;
  return static_cast<int>(receipt.data);
}

bool KqReadable(int kq) {
  struct pollfd p = {kq, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

void Pipe(int fds[2]) { CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0); }

void Section(const char* name) { std::printf("# %s\n", name); }

}  // namespace

int main() {
  struct kevent ev[8];
  int p[2];

  Section("receipts and errors");
  {
    const int kq = kqueue();
    CHECK(kq >= 0);
    Pipe(p);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD) == 0);
    CHECK(Change(kq, p[1], EVFILT_READ, EV_DELETE) == ENOENT);
    CHECK(Change(kq, p[0], EVFILT_WRITE, EV_ENABLE) == ENOENT);
    CHECK(Change(kq, 100000, EVFILT_READ, EV_ADD) == EBADF);
    CHECK(Change(kq, p[0], 99, EV_ADD) == EINVAL);
    // A failing change without room for its EV_ERROR entry fails the call.
    struct kevent bad;
    EV_SET(&bad, 100000, EVFILT_READ, EV_ADD, 0, 0, nullptr);
    errno = 0;
    CHECK(kevent(kq, &bad, 1, nullptr, 0, &kZero) == -1 && errno == EBADF);
    // A receipt is returned instead of events: nothing ready is lost into it.
    CHECK(write(p[1], "x", 1) == 1);
    struct kevent pair[2];
    EV_SET(&pair[0], static_cast<uintptr_t>(p[1]), EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, nullptr);
    CHECK(kevent(kq, pair, 1, ev, 8, &kZero) == 1 && (ev[0].flags & EV_ERROR) && ev[0].data == 0);
    CHECK(Poll(kq, ev, 8) == 2);
    errno = 0;
    CHECK(kevent(p[0], nullptr, 0, ev, 1, &kZero) == -1 && errno == EBADF);
    close(p[0]);
    close(p[1]);
    close(kq);
  }

  Section("level-triggered read with data and udata");
  {
    const int kq = kqueue();
    Pipe(p);
    int marker = 0;
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD, &marker) == 0);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(!KqReadable(kq));
    CHECK(write(p[1], "abc", 3) == 3);
    CHECK(KqReadable(kq));
    CHECK(Poll(kq, ev, 8) == 1 && ev[0].filter == EVFILT_READ && ev[0].ident == static_cast<uintptr_t>(p[0]));
    CHECK(ev[0].data == 3 && ev[0].udata == &marker && (ev[0].flags & EV_EOF) == 0);
    CHECK(Poll(kq, ev, 8) == 1);  // still there
    char buf[8];
    CHECK(read(p[0], buf, sizeof(buf)) == 3);
    CHECK(Poll(kq, ev, 8) == 0);
    close(p[1]);
    CHECK(Poll(kq, ev, 8) == 1 && (ev[0].flags & EV_EOF) && ev[0].fflags == 0);
    close(p[0]);
    close(kq);
  }

  Section("EV_CLEAR: reported once per change");
  {
    const int kq = kqueue();
    Pipe(p);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD | EV_CLEAR) == 0);
    CHECK(write(p[1], "a", 1) == 1);
    CHECK(Poll(kq, ev, 8) == 1 && (ev[0].flags & EV_CLEAR));
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(write(p[1], "b", 1) == 1);
    CHECK(Poll(kq, ev, 8) == 1 && ev[0].data == 2);
    // Mixing edge and level filters on one descriptor is a documented limit of the emulation.
    CHECK(Change(kq, p[0], EVFILT_WRITE, EV_ADD) == EINVAL);
    close(p[0]);
    close(p[1]);
    close(kq);
  }

  Section("EV_DISPATCH: disabled after one report, EV_ENABLE re-arms");
  {
    const int kq = kqueue();
    Pipe(p);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD | EV_DISPATCH) == 0);
    CHECK(write(p[1], "a", 1) == 1);
    CHECK(Poll(kq, ev, 8) == 1 && (ev[0].flags & EV_DISPATCH));
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(!KqReadable(kq));
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ENABLE) == 0);
    CHECK(Poll(kq, ev, 8) == 1);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD | EV_ENABLE) == 0);  // the backend's re-arm
    CHECK(Poll(kq, ev, 8) == 1);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_DELETE) == 0);
    close(p[0]);
    close(p[1]);
    close(kq);
  }

  Section("EV_ONESHOT: deleted after one report");
  {
    const int kq = kqueue();
    Pipe(p);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD | EV_ONESHOT) == 0);
    CHECK(write(p[1], "a", 1) == 1);
    CHECK(Poll(kq, ev, 8) == 1 && (ev[0].flags & EV_ONESHOT));
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_DELETE) == ENOENT);
    close(p[0]);
    close(p[1]);
    close(kq);
  }

  Section("EV_DISABLE / EV_ENABLE");
  {
    const int kq = kqueue();
    Pipe(p);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD | EV_DISABLE) == 0);
    CHECK(write(p[1], "a", 1) == 1);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ENABLE) == 0);
    CHECK(Poll(kq, ev, 8) == 1);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_DISABLE) == 0);
    CHECK(Poll(kq, ev, 8) == 0);
    close(p[0]);
    close(p[1]);
    close(kq);
  }

  Section("EVFILT_WRITE and EV_EOF when the reader goes");
  {
    const int kq = kqueue();
    Pipe(p);
    CHECK(Change(kq, p[1], EVFILT_WRITE, EV_ADD) == 0);
    CHECK(Poll(kq, ev, 8) == 1 && ev[0].filter == EVFILT_WRITE && (ev[0].flags & EV_EOF) == 0);
    close(p[0]);
    CHECK(Poll(kq, ev, 8) == 1 && (ev[0].flags & EV_EOF) && ev[0].fflags == 0);
    close(p[1]);
    close(kq);
  }

  Section("two filters on one socket, a small eventlist, and the queue keeping the kqueue readable");
  {
    const int kq = kqueue();
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) == 0);
    CHECK(Change(kq, s[0], EVFILT_READ, EV_ADD | EV_CLEAR) == 0);
    CHECK(Change(kq, s[0], EVFILT_WRITE, EV_ADD | EV_CLEAR) == 0);
    CHECK(write(s[1], "x", 1) == 1);
    CHECK(Poll(kq, ev, 1) == 1);
    const int16_t first = ev[0].filter;
    CHECK(KqReadable(kq));
    CHECK(Poll(kq, ev, 1) == 1 && ev[0].filter != first);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(!KqReadable(kq));
    // The peer closes: read EOF.
    close(s[1]);
    CHECK(Poll(kq, ev, 8) >= 1);
    bool read_eof = false;
    for (int i = 0; i < 2; ++i) read_eof = read_eof || (ev[i].filter == EVFILT_READ && (ev[i].flags & EV_EOF));
    CHECK(read_eof);
    close(s[0]);
    close(kq);
  }

  Section("EVFILT_EXCEPT NOTE_OOB on TCP urgent data is exercised by the addon's tests (loopback TCP)");

  Section("a closed descriptor's knotes go, and its number can be registered again");
  {
    const int kq = kqueue();
    Pipe(p);
    const int old_read = p[0];
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD) == 0);
    close(p[0]);
    close(p[1]);
    Pipe(p);
    CHECK(p[0] == old_read);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_DELETE) == ENOENT);
    CHECK(Change(kq, p[0], EVFILT_READ, EV_ADD) == 0);
    CHECK(write(p[1], "a", 1) == 1);
    CHECK(Poll(kq, ev, 8) == 1);
    close(p[0]);
    close(p[1]);
    close(kq);
  }

  Section("a closed kqueue is forgotten");
  {
    const int kq = kqueue();
    close(kq);
    errno = 0;
    const int again = kqueue();
    CHECK(again >= 0);
    CHECK(Poll(again, ev, 1) == 0);
    close(again);
  }

  Section("EVFILT_TIMER: periodic counts expirations, EV_ONESHOT fires once and is gone");
  {
    const int kq = kqueue();
    CHECK(Source(kq, 1, EVFILT_TIMER, EV_ADD, NOTE_USECONDS, 2000) == 0);
    CHECK(Wait(kq, ev, 8) == 1 && ev[0].filter == EVFILT_TIMER && ev[0].ident == 1 && ev[0].data >= 1);
    usleep(10000);
    CHECK(Poll(kq, ev, 8) == 1 && ev[0].data >= 2);  // several periods passed: counted, reported once
    CHECK(Source(kq, 1, EVFILT_TIMER, EV_DELETE, 0, 0) == 0);
    CHECK(Source(kq, 2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1) == 0);  // 1 ms
    CHECK(Wait(kq, ev, 8) == 1 && ev[0].ident == 2 && ev[0].data == 1);
    usleep(5000);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(Source(kq, 2, EVFILT_TIMER, EV_DELETE, 0, 0) == ENOENT);
    close(kq);
  }

  Section("EVFILT_USER: NOTE_TRIGGER with EV_CLEAR, fflags controls, readable kqueue");
  {
    const int kq = kqueue();
    CHECK(Source(kq, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0) == 0);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(!KqReadable(kq));
    CHECK(Source(kq, 7, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 5, 0) == 0);
    CHECK(KqReadable(kq));
    CHECK(Poll(kq, ev, 8) == 1 && ev[0].ident == 7 && ev[0].fflags == 5);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(Source(kq, 8, EVFILT_USER, 0, NOTE_TRIGGER, 0) == ENOENT);
    close(kq);
  }

  Section("EVFILT_PROC NOTE_EXIT: reported once with EV_EOF, then gone; ESRCH for no process");
  {
    const int kq = kqueue();
    const pid_t child = fork();
    if (child == 0) {
      usleep(20000);
      _exit(7);
    }
    CHECK(Source(kq, static_cast<uintptr_t>(child), EVFILT_PROC, EV_ADD, NOTE_EXIT, 0) == 0);
    CHECK(Wait(kq, ev, 8) == 1 && ev[0].filter == EVFILT_PROC && (ev[0].fflags & NOTE_EXIT) && (ev[0].flags & EV_EOF));
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(Source(kq, static_cast<uintptr_t>(child), EVFILT_PROC, EV_DELETE, 0, 0) == ENOENT);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 7);
    CHECK(Source(kq, static_cast<uintptr_t>(child), EVFILT_PROC, EV_ADD, NOTE_EXIT, 0) == ESRCH);
    close(kq);
  }

  Section("EVFILT_PROC NOTE_EXITSTATUS: the wait status in data, even when reaped first; EACCES for a non-child");
  {
    const int kq = kqueue();
    const pid_t child = fork();
    if (child == 0) {
      usleep(20000);
      raise(SIGTERM);
      _exit(1);
    }
    CHECK(Source(kq, static_cast<uintptr_t>(child), EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_EXITSTATUS, 0) == 0);
    int status = 0;
    // Reaped before the knote is harvested (as libuv's SIGCHLD handler may do): the status is still reported.
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    CHECK(Wait(kq, ev, 8) == 1 && ev[0].filter == EVFILT_PROC && (ev[0].fflags & NOTE_EXITSTATUS) != 0);
    CHECK(WIFSIGNALED(static_cast<int>(ev[0].data)) && WTERMSIG(static_cast<int>(ev[0].data)) == SIGTERM);
    const pid_t exiting = fork();
    if (exiting == 0) {
      usleep(20000);
      _exit(7);
    }
    CHECK(Source(kq, static_cast<uintptr_t>(exiting), EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_EXITSTATUS, 0) == 0);
    CHECK(Wait(kq, ev, 8) == 1 && WIFEXITED(static_cast<int>(ev[0].data)) && WEXITSTATUS(static_cast<int>(ev[0].data)) == 7);
    CHECK(waitpid(exiting, &status, 0) == exiting);
    // Our parent is not our child.
    CHECK(Source(kq, static_cast<uintptr_t>(getppid()), EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_EXITSTATUS, 0) == EACCES);
    close(kq);
  }

  Section("EVFILT_VNODE: NOTE_WRITE|NOTE_EXTEND, NOTE_ATTRIB, NOTE_DELETE on unlink, directory NOTE_WRITE");
  {
    const int kq = kqueue();
    char dir[] = "/tmp/fdloop-kqemu-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    const std::string file = std::string(dir) + "/f";
    const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    const uint32_t all = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME;
    CHECK(Source(kq, static_cast<uintptr_t>(fd), EVFILT_VNODE, EV_ADD | EV_CLEAR, all, 0) == 0);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(write(fd, "abc", 3) == 3);
    CHECK(Wait(kq, ev, 8) == 1 && (ev[0].fflags & NOTE_WRITE) && (ev[0].fflags & NOTE_EXTEND));
    CHECK(fchmod(fd, 0600) == 0);
    CHECK(Wait(kq, ev, 8) == 1 && ev[0].fflags == NOTE_ATTRIB);
    CHECK(unlink(file.c_str()) == 0);
    CHECK(Wait(kq, ev, 8) == 1 && (ev[0].fflags & NOTE_DELETE) && (ev[0].fflags & NOTE_ATTRIB) == 0);
    CHECK(Source(kq, static_cast<uintptr_t>(fd), EVFILT_VNODE, EV_DELETE, 0, 0) == 0);
    close(fd);
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(Source(kq, static_cast<uintptr_t>(dfd), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_LINK, 0) == 0);
    CHECK(mkdir((std::string(dir) + "/sub").c_str(), 0755) == 0);
    CHECK(Wait(kq, ev, 8) == 1 && (ev[0].fflags & NOTE_WRITE) && (ev[0].fflags & NOTE_LINK));
    CHECK(rmdir((std::string(dir) + "/sub").c_str()) == 0);
    CHECK(rmdir(dir) == 0);
    close(dfd);
    close(kq);
  }

  Section("EVFILT_SIGNAL: records deliveries of an ignored signal, counted, without consuming it");
  {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction before {};
    CHECK(sigaction(SIGUSR1, &ignore, &before) == 0);
    const int kq = kqueue();
    CHECK(Source(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD | EV_CLEAR, 0, 0) == 0);
    CHECK(Poll(kq, ev, 8) == 0);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(Wait(kq, ev, 8) == 1 && ev[0].filter == EVFILT_SIGNAL && ev[0].ident == SIGUSR1 && ev[0].data >= 1);
    intptr_t total = ev[0].data;
    while (total < 2 && Wait(kq, ev, 8) == 1) total += ev[0].data;
    CHECK(total == 2);
    CHECK(Source(kq, SIGUSR1, EVFILT_SIGNAL, EV_DELETE, 0, 0) == 0);
    struct sigaction after {};
    CHECK(sigaction(SIGUSR1, nullptr, &after) == 0 && after.sa_handler == SIG_IGN);  // put back
    CHECK(Source(kq, 9999, EVFILT_SIGNAL, EV_ADD, 0, 0) == EINVAL);
    close(kq);
    CHECK(sigaction(SIGUSR1, &before, nullptr) == 0);
  }

  std::printf("ok: %d checks\n", checks);
  return 0;
}
