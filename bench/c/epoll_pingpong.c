/*
 * P1 reference: pipe ping-pong driven by a plain level-triggered epoll loop, single thread, no runtime.
 *
 * Two non-blocking pipes A and B. Write 1 byte to A; when A's read end is readable, read it and write 1 byte to
 * B; when B's read end is readable, read it and write 1 byte to A again. One round trip = A -> B -> A.
 * The loop checks the clock every CHECK_EVERY round trips, exactly as the JavaScript contenders do.
 *
 * Usage: epoll_pingpong SECONDS WARMUP_SECONDS
 * Prints one line: RESULT {"ops":N,"seconds":S,"fds":5}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define CHECK_EVERY 256

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int a[2], b[2], epfd;

/* Run round trips until `seconds` have passed; returns the number done and stores the elapsed time. */
static uint64_t run(double seconds, double *elapsed) {
  struct epoll_event events[64];
  char byte = 'x';
  uint64_t trips = 0;
  const double start = now_s();
  double t = start;
  if (write(a[1], &byte, 1) != 1) die("write A");
  for (;;) {
    int n = epoll_wait(epfd, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      if (events[i].data.fd == a[0]) {
        if (read(a[0], &byte, 1) != 1) die("read A");
        if (write(b[1], &byte, 1) != 1) die("write B");
      } else {
        if (read(b[0], &byte, 1) != 1) die("read B");
        trips++;
        if (trips % CHECK_EVERY == 0) {
          t = now_s();
          if (t - start >= seconds) {
            *elapsed = t - start;
            return trips;
          }
        }
        if (write(a[1], &byte, 1) != 1) die("write A");
      }
    }
  }
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  double warmup = argc > 2 ? atof(argv[2]) : 0.2;
  if (pipe2(a, O_NONBLOCK | O_CLOEXEC) < 0 || pipe2(b, O_NONBLOCK | O_CLOEXEC) < 0) die("pipe2");
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.fd = a[0];
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, a[0], &ev) < 0) die("epoll_ctl A");
  ev.data.fd = b[0];
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, b[0], &ev) < 0) die("epoll_ctl B");
  double elapsed = 0;
  if (warmup > 0) run(warmup, &elapsed);
  uint64_t trips = run(seconds, &elapsed);
  printf("RESULT {\"ops\":%llu,\"seconds\":%.6f,\"fds\":5}\n", (unsigned long long)trips, elapsed);
  return 0;
}
