#pragma once

#include "events/storage/big_endian.h"

namespace caseline::events::detail {

// The record hash chain (checkpoint.cpp) frames its input with the storage module's big-endian
// integers; RocksDB code includes events/storage/big_endian.h itself.
using storage::get_be32;
using storage::get_be64;
using storage::put_be32;
using storage::put_be64;

}  // namespace caseline::events::detail
