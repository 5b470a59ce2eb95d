#include "tools/progress.h"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <unistd.h>

namespace caseline::tools {

bool is_terminal(const std::ostream& out) {
  if (&out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  return false;
}

progress_bar::progress_bar(std::ostream& out, std::string label, std::uint64_t total)
    : progress_bar(out, std::move(label), total, is_terminal(out)) {}

progress_bar::progress_bar(std::ostream& out, std::string label, std::uint64_t total,
                           bool enabled)
    : out_(out), label_(std::move(label)), total_(total), enabled_(enabled) {}

progress_bar::~progress_bar() {
  if (drawn_ && !finished_) out_ << '\n' << std::flush;
}

void progress_bar::set_total(std::uint64_t total) { total_ = total; }

void progress_bar::update(std::uint64_t done) {
  done_ = done;
  if (!enabled_ || finished_) return;
  const int percent =
      total_ == 0 ? 100 : static_cast<int>(std::min<std::uint64_t>(done_, total_) * 100 / total_);
  const auto now = std::chrono::steady_clock::now();
  if (percent == shown_percent_ || (drawn_ && now - last_draw_ < min_redraw)) return;
  last_draw_ = now;
  shown_percent_ = percent;
  draw();
}

void progress_bar::finish() {
  if (finished_) return;
  if (enabled_) {
    done_ = std::max(done_, total_);
    shown_percent_ = 100;
    draw();
    out_ << '\n' << std::flush;
  }
  finished_ = true;
}

void progress_bar::draw() {
  const std::uint64_t shown = std::min(done_, total_);
  const int filled =
      total_ == 0 ? width : static_cast<int>(shown * static_cast<std::uint64_t>(width) / total_);
  out_ << fmt::format("\r{} [{}{}] {:3}%  {}/{}", label_, std::string(filled, '#'),
                      std::string(width - filled, '.'), shown_percent_, done_, total_)
       << std::flush;
  drawn_ = true;
}

}  // namespace caseline::tools
