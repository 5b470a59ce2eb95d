#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace caseline::tools {

// Whether `out` is std::cout or std::cerr attached to a terminal. Any other stream (a file, a
// string stream) is not.
bool is_terminal(const std::ostream& out);

// A one-line progress bar redrawn in place ("\r"):
//   label [##########..........]  50%  1234/2468
// Quiet (prints nothing at all) when disabled, which by default is when `out` is not a terminal,
// so that piped or logged output stays clean. Redraws at most every `min_redraw` and only when
// the shown percentage changed; finish() draws 100% and ends the line.
//
// Lifecycle: a plain object over a borrowed stream; the destructor finishes the line if needed.
// Thread-safety: none; one thread drives it.
class progress_bar {
 public:
  progress_bar(std::ostream& out, std::string label, std::uint64_t total);
  progress_bar(std::ostream& out, std::string label, std::uint64_t total, bool enabled);
  ~progress_bar();
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  void set_total(std::uint64_t total);
  void advance(std::uint64_t n = 1) { update(done_ + n); }
  void update(std::uint64_t done);
  void finish();

  bool enabled() const { return enabled_; }
  std::uint64_t done() const { return done_; }

  static constexpr std::chrono::milliseconds min_redraw{100};
  static constexpr int width = 30;

 private:
  void draw();

  std::ostream& out_;
  std::string label_;
  std::uint64_t total_;
  std::uint64_t done_{0};
  bool enabled_;
  bool drawn_{false};
  bool finished_{false};
  int shown_percent_{-1};
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace caseline::tools
