#pragma once

// The topics the benchmarks' generated cases are classified under (core::classify): matters a
// transport hotline hears, from taxis to work safety. One list for every generator (the read
// store's seed, the rebuild's log), so that their cases are classified alike.

#include <array>

namespace caseline::tools {

inline constexpr std::array<const char*, 20> bench_topics{
    "出租车",   "网约车",   "公交", "长途客运", "超限",   "路面", "收费",
    "高速拥堵", "驾校",     "维修", "水运",     "海事",   "救助", "安全生产",
    "停车",     "共享单车", "地铁", "货运",     "危险品", "其他"};

}  // namespace caseline::tools
