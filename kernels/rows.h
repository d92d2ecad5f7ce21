// Row gather / scatter on the GPU (the paged KV cache's writes, the last-token rows before the
// LM head). Rows are opaque bytes, so one kernel serves every dtype. Plain C++ header.
#ifndef DRIVELM_KERNELS_ROWS_H_
#define DRIVELM_KERNELS_ROWS_H_

#include <cstdint>
#include <string>

namespace drivelm::kernels {

// Device pointers. dst row i = src row rows[i] for i < n; rows has n entries (device), each a
// valid src row. src and dst must not overlap.
std::string GatherRows(const void* src, const int64_t* rows, int64_t n, int64_t row_bytes,
                       void* dst, void* stream);

// Device pointers. dst row rows[i] = src row i for i < n; the rows are distinct and valid dst
// rows. src and dst must not overlap.
std::string ScatterRows(const void* src, const int64_t* rows, int64_t n, int64_t row_bytes,
                        void* dst, void* stream);

}  // namespace drivelm::kernels

#endif  // DRIVELM_KERNELS_ROWS_H_
