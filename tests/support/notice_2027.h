#pragma once

// The 2027 notice as the calendar-continuity tests imagine it (the real one was not out when
// they were written): the statutory days, a bridging holiday (02-09 .. 02-11 joined to the
// Spring Festival) and a make-up Saturday (02-13), in the calendar data file format.

namespace caseline::testing {

inline constexpr const char* notice_2027 =
    "year 2027 covered https://www.gov.cn/example-2027-notice\n"
    "2027-01-01..2027-01-03 holiday 元旦\n"
    "2027-02-05..2027-02-11 holiday 春节\n"
    "2027-02-13 makeup_workday 春节\n"
    "2027-04-03..2027-04-05 holiday 清明节\n"
    "2027-05-01..2027-05-05 holiday 劳动节\n"
    "2027-06-09 holiday 端午节\n"
    "2027-09-15 holiday 中秋节\n"
    "2027-10-01..2027-10-07 holiday 国庆节\n";

}  // namespace caseline::testing
