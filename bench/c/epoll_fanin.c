/*
 * P2 reference: fan-in over many eventfds driven by a plain level-triggered epoll loop, single thread.
 *
 * N eventfds (non-blocking), all registered for EPOLLIN. Each round writes 1 to every eventfd, then runs
 * epoll_wait (up to BATCH events per call, like fdloop's default batch size) and reads (resets) each ready
 * eventfd until all N events of the round were handled. Rounds repeat until the time is up (at least one).
 *
 * Usage: epoll_fanin N SECONDS WARMUP_SECONDS
 * Prints one line: RESULT {"ops":EVENTS,"rounds":R,"seconds":S,"fds":N+1}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1024

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int *fds;
static int nfds;
static int epfd;

static uint64_t run(double seconds, double *elapsed, uint64_t *rounds_out) {
  static struct epoll_event events[BATCH];
  const uint64_t one = 1;
  uint64_t value;
  uint64_t rounds = 0;
  const double start = now_s();
  double t;
  do {
    for (int i = 0; i < nfds; i++) {
      if (write(fds[i], &one, sizeof one) != sizeof one) die("write eventfd");
    }
    int handled = 0;
    while (handled < nfds) {
      int n = epoll_wait(epfd, events, BATCH, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      for (int i = 0; i < n; i++) {
        if (read(events[i].data.fd, &value, sizeof value) != sizeof value) die("read eventfd");
        handled++;
      }
    }
    rounds++;
    t = now_s();
  } while (t - start < seconds);
  *elapsed = t - start;
  *rounds_out = rounds;
  return rounds * (uint64_t)nfds;
}

int main(int argc, char **argv) {
  nfds = argc > 1 ? atoi(argv[1]) : 10000;
  double seconds = argc > 2 ? atof(argv[2]) : 2.0;
  double warmup = argc > 3 ? atof(argv[3]) : 0.2;
  fds = calloc((size_t)nfds, sizeof *fds);
  if (fds == NULL) die("calloc");
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  for (int i = 0; i < nfds; i++) {
    fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fds[i] < 0) die("eventfd");
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = fds[i];
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0) die("epoll_ctl");
  }
  double elapsed = 0;
  uint64_t rounds = 0;
  if (warmup > 0) run(warmup, &elapsed, &rounds);
  uint64_t events = run(seconds, &elapsed, &rounds);
  printf("RESULT {\"ops\":%llu,\"rounds\":%llu,\"seconds\":%.6f,\"fds\":%d}\n", (unsigned long long)events,
         (unsigned long long)rounds, elapsed, nfds + 1);
  return 0;
}
