// jemalloc's options for the caseline executable, read by jemalloc before main (MALLOC_CONF in
// the environment overrides any of them). Linked only where jemalloc serves malloc
// (tools/CMakeLists.txt).
//
// - background_thread: pages freed are returned to the kernel by jemalloc's own thread, not
//   inside a request's malloc or free on an HTTP loop;
// - dirty_decay_ms 1000 (jemalloc's default is 10 s): the pages the block cache, the memtables
//   and a burst of requests freed go back within about a second, so that the server's RSS stays
//   near what it holds (measured with the bf4a0a1 table, in docs/benchmarks.md's history: 303-308
//   → 264-277 MiB after the reads with 10⁶ cases, the same CPU per read within the runs' spread).

extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc's interface
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000";
}
