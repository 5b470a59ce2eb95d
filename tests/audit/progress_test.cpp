#include "tools/progress.h"

#include <algorithm>
#include <sstream>

#include <doctest/doctest.h>

using caseline::tools::progress_bar;

TEST_CASE("a progress bar draws the share done in place and ends its line when finished") {
  std::ostringstream out;
  {
    progress_bar bar(out, "verifying", 200, true);
    bar.update(100);
    CHECK(out.str().find("\rverifying [###############...............]  50%  100/200") !=
          std::string::npos);
    bar.finish();
    CHECK(out.str().find("100%  200/200\n") != std::string::npos);
  }
  const std::string text = out.str();
  const auto lines = std::count(text.begin(), text.end(), '\n');
  CHECK(lines == 1);
}

TEST_CASE("a progress bar redraws only when the percentage it shows changes") {
  std::ostringstream out;
  progress_bar bar(out, "x", 1000, true);
  bar.update(1);  // 0%: the first draw
  const auto first = out.str().size();
  bar.update(2);  // still 0%
  bar.update(3);
  CHECK(out.str().size() == first);
  CHECK(bar.done() == 3);
}

TEST_CASE("a progress bar is quiet when its stream is not a terminal") {
  std::ostringstream out;
  {
    progress_bar bar(out, "verifying", 10);  // a string stream is never a terminal
    CHECK_FALSE(bar.enabled());
    bar.update(5);
    bar.finish();
  }
  CHECK(out.str().empty());
}

TEST_CASE("a progress bar with nothing to do shows 100%") {
  std::ostringstream out;
  progress_bar bar(out, "empty", 0, true);
  bar.finish();
  CHECK(out.str().find("100%  0/0") != std::string::npos);
}
