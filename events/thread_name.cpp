#include "events/thread_name.h"

#include <pthread.h>

#include <string>

namespace caseline::events {

void name_this_thread(std::string_view name) {
  constexpr std::size_t max_bytes = 15;  // TASK_COMM_LEN less the terminating zero
  const std::string cut(name.substr(0, max_bytes));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace caseline::events
