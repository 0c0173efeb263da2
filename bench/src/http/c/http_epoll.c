/*
 * P3 reference: a minimal HTTP/1.1 hello-world server on a plain level-triggered epoll loop, single thread.
 * It is the physical-limit reference, not a real server: it answers every request head (found by "\r\n\r\n")
 * with the same 11-byte body, keeps connections alive, answers pipelined requests in one write, and ignores
 * request bodies. No parsing beyond that, no allocation per request.
 *
 * Usage: http_epoll PORT   (0 picks a free port). Prints "LISTENING <port>" once ready; runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define BUF 16384
#define MAX_FD 65536

static const char BODY[] = "Hello World";

struct conn {
  int tail; /* bytes of an incomplete head kept from the previous read ("\r\n\r\n" may straddle reads) */
  char keep[3];
};

static struct conn conns[MAX_FD];
static char date_line[64];
static time_t date_at;
static char response[256];
static int response_len;

static void build_response(void) {
  time_t now = time(NULL);
  if (now == date_at) return;
  date_at = now;
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date_line, sizeof(date_line), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  response_len = snprintf(response, sizeof(response),
                          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: %s\r\nContent-Length: %zu\r\n\r\n%s",
                          date_line, sizeof(BODY) - 1, BODY);
}

/* Count request heads ending in this read, carrying the last 3 bytes over for split terminators. */
static int count_heads(struct conn *c, const char *buf, int n) {
  char scan[BUF + 3];
  memcpy(scan, c->keep, (size_t)c->tail);
  memcpy(scan + c->tail, buf, (size_t)n);
  int len = c->tail + n, heads = 0;
  for (int i = 0; i + 3 < len; i++) {
    if (scan[i] == '\r' && scan[i + 1] == '\n' && scan[i + 2] == '\r' && scan[i + 3] == '\n') {
      heads++;
      i += 3;
    }
  }
  c->tail = len < 3 ? len : 3;
  memcpy(c->keep, scan + len - c->tail, (size_t)c->tail);
  return heads;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 511) != 0) {
    perror("bind/listen");
    return 1;
  }
  socklen_t alen = sizeof(addr);
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("LISTENING %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event events[MAX_EVENTS];
  static char buf[BUF];
  static char out[BUF * 4];
  for (;;) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0 && errno == EINTR) continue;
    build_response();
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          if (c >= MAX_FD) {
            close(c);
            continue;
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          conns[c].tail = 0;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
          epoll_ctl(epfd, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        close(fd);
        continue;
      }
      int heads = count_heads(&conns[fd], buf, (int)r);
      int len = 0;
      for (int h = 0; h < heads; h++) {
        if (len + response_len > (int)sizeof(out)) {
          if (write(fd, out, (size_t)len) < 0) break;
          len = 0;
        }
        memcpy(out + len, response, (size_t)response_len);
        len += response_len;
      }
      /* A hello-world response fits the socket buffer; a short write would only happen under a flood of
         pipelined requests, which the benchmark does not send. */
      if (len > 0 && write(fd, out, (size_t)len) < 0 && errno != EAGAIN) close(fd);
    }
  }
}
