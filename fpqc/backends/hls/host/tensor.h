// tensor.h -- a tensor in host memory: f32 values, int64 values or packed low-bit code words.
#ifndef FPQC_HOST_TENSOR_H
#define FPQC_HOST_TENSOR_H

#include <cstdint>
#include <string>
#include <vector>

namespace fpqc_host {

// How a schedule buffer's elements are stored ("f32", "int64", "packed_codes" in host_schedule.json).
enum class DType { F32, I64, Words };

// Row-major data of one shape; only the vector of its dtype is used.
struct Tensor {
  DType dtype = DType::F32;
  std::vector<long long> shape;
  std::vector<float> f32;
  std::vector<long long> i64;
  std::vector<std::uint32_t> words;  // packed codes: code i of a word in bits [i*bits, (i+1)*bits)

  // A tensor of `shape` whose elements (or, for Words, `words` code words) are all zero.
  static Tensor zeros(DType dtype, const std::vector<long long>& shape, std::size_t words = 0);
};

// The number of elements of `shape` (1 for a scalar).
long long element_count(const std::vector<long long>& shape);

// "[2, 3, 4]"
std::string shape_text(const std::vector<long long>& shape);

}  // namespace fpqc_host

#endif
