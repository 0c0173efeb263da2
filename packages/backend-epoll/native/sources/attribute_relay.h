// A relay thread for attribute files whose poll() consumes the notification (/proc/sys files such as
// /proc/sys/kernel/hostname): behind the backend's nested epoll the first poll of such a file is libuv's readiness
// check of our epoll descriptor, so our own epoll_wait never sees the change. The relay polls the file directly
// with poll(2) on its own thread and signals an eventfd that the runtime watches; it then waits for the JS side to
// acknowledge (after re-reading the file) before polling again, so a file that keeps reporting until read (kernfs)
// cannot make it spin.
#pragma once

#include <napi.h>

namespace fdloop::sources {

// JS: `new AttributeRelay(attrFd)` with `fd` (the eventfd to watch for READABLE), `ack()` after each re-read,
// and `close()`. The finalizer (also run at environment teardown) stops and joins the thread.
Napi::Function DefineAttributeRelay(Napi::Env env);

}  // namespace fdloop::sources
