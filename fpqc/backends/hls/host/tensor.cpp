// tensor.cpp -- host tensors (tensor.h).
#include "tensor.h"

namespace fpqc_host {

long long element_count(const std::vector<long long>& shape) {
  long long n = 1;
  for (long long d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<long long>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

Tensor Tensor::zeros(DType dtype, const std::vector<long long>& shape, std::size_t words) {
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  const std::size_t n = static_cast<std::size_t>(element_count(shape));
  if (dtype == DType::F32) t.f32.assign(n, 0.0f);
  if (dtype == DType::I64) t.i64.assign(n, 0);
  if (dtype == DType::Words) t.words.assign(words, 0u);
  return t;
}

}  // namespace fpqc_host
