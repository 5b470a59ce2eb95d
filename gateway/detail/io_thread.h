#pragma once

// The HTTP server's I/O threads, as the api sees them (gateway/server.cpp): work that a request
// answered on such a thread defers until the requests its loop has ready now were handled.
// Asio and Beast stay out of this header.

#include <functional>

namespace caseline::gateway {

// Queues `f` on the loop of the http_server's I/O thread that calls it, behind the handlers
// ready there now, and returns true; returns false (and drops `f`) on any other thread. `f` runs
// on the same thread (each I/O thread has its own loop), unless the server stops first: then it
// is destroyed without running.
bool defer_on_io_thread(std::function<void()> f);

}  // namespace caseline::gateway
