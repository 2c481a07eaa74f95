// host_ops.cpp -- the host ops of host_ops.h.
#include "host_ops.h"

#include <algorithm>
#include <cstring>

#include "error.h"
#include "fpqc_numerics.h"

namespace fpqc_host {

namespace {

void expect(bool ok, const std::string& where, const std::string& what) {
  if (!ok) throw HostError(where + ": " + what + "; recompile the model");
}

// For each element of `to` (row-major), the index of the element of `from` that numpy
// broadcasting copies there (shapes aligned on the right; a dimension of 1 repeats).
std::vector<long long> broadcast_index(const std::vector<long long>& from, const std::vector<long long>& to,
                                       const std::string& where) {
  expect(from.size() <= to.size(), where, "cannot broadcast " + shape_text(from) + " to " + shape_text(to));
  const std::size_t rank = to.size(), offset = rank - from.size();
  std::vector<long long> stride(rank, 0);
  long long step = 1;
  for (std::size_t i = rank; i-- > offset;) {
    const long long d = from[i - offset];
    expect(d == to[i] || d == 1, where, "cannot broadcast " + shape_text(from) + " to " + shape_text(to));
    stride[i] = d == 1 ? 0 : step;
    step *= d;
  }
  std::vector<long long> index(static_cast<std::size_t>(element_count(to)));
  std::vector<long long> position(rank, 0);
  long long source = 0;
  for (std::size_t n = 0; n < index.size(); ++n) {
    index[n] = source;
    for (std::size_t i = rank; i-- > 0;) {  // the next position, last axis fastest
      source += stride[i];
      if (++position[i] < to[i]) break;
      source -= stride[i] * position[i];
      position[i] = 0;
    }
  }
  return index;
}

// out[i] = in[index[i]] for the dtype both share.
void gather(const Tensor& in, const std::vector<long long>& index, Tensor& out, const std::string& where) {
  expect(in.dtype == out.dtype && in.dtype != DType::Words, where, "mismatched element types");
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (in.dtype == DType::F32) out.f32[i] = in.f32[static_cast<std::size_t>(index[i])];
    else out.i64[i] = in.i64[static_cast<std::size_t>(index[i])];
  }
}

void add(const Tensor& a, const Tensor& b, Tensor& y, const std::string& where) {
  expect(a.dtype == y.dtype && b.dtype == y.dtype && y.dtype != DType::Words, where, "mismatched element types");
  const std::vector<long long> ia = broadcast_index(a.shape, y.shape, where), ib = broadcast_index(b.shape, y.shape, where);
  for (std::size_t i = 0; i < ia.size(); ++i) {
    if (y.dtype == DType::F32) y.f32[i] = a.f32[static_cast<std::size_t>(ia[i])] + b.f32[static_cast<std::size_t>(ib[i])];
    else y.i64[i] = a.i64[static_cast<std::size_t>(ia[i])] + b.i64[static_cast<std::size_t>(ib[i])];
  }
}

// The same elements under the result's shape (Reshape, Unsqueeze, Squeeze, Identity).
void copy_elements(const Tensor& x, Tensor& y, const std::string& where) {
  expect(x.dtype == y.dtype && element_count(x.shape) == element_count(y.shape), where,
         "a reshape of " + shape_text(x.shape) + " to " + shape_text(y.shape));
  y.f32 = x.f32;
  y.i64 = x.i64;
}

// onnx.Slice: data, starts, ends[, axes[, steps]] with the ONNX clamping rules.
void slice(const std::vector<const Tensor*>& args, const std::vector<int>& slots, Tensor& y, const std::string& where) {
  const Tensor* inputs[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  for (std::size_t i = 0; i < args.size(); ++i) {
    expect(slots[i] >= 0 && slots[i] < 5, where, "onnx.Slice has five inputs");
    inputs[slots[i]] = args[i];
  }
  expect(inputs[0] && inputs[1] && inputs[2], where, "onnx.Slice without data, starts or ends");
  const Tensor& data = *inputs[0];
  const std::vector<long long>& starts = inputs[1]->i64;
  const std::vector<long long>& ends = inputs[2]->i64;
  const long long rank = static_cast<long long>(data.shape.size());
  std::vector<long long> first(data.shape.size(), 0), step(data.shape.size(), 1), count(data.shape);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    long long axis = inputs[3] ? inputs[3]->i64.at(i) : static_cast<long long>(i);
    axis = axis < 0 ? axis + rank : axis;
    const long long s = inputs[4] ? inputs[4]->i64.at(i) : 1;
    expect(axis >= 0 && axis < rank && s != 0 && i < ends.size(), where, "a bad onnx.Slice");
    const long long dim = data.shape[static_cast<std::size_t>(axis)];
    long long start = starts[i] < 0 ? starts[i] + dim : starts[i];
    long long end = ends[i] < 0 ? ends[i] + dim : ends[i];
    long long n;
    if (s > 0) {
      start = std::min(std::max(start, 0LL), dim);
      end = std::min(std::max(end, 0LL), dim);
      n = end > start ? (end - start + s - 1) / s : 0;
    } else {
      start = std::min(std::max(start, 0LL), dim - 1);
      end = std::min(std::max(end, -1LL), dim - 1);
      n = start > end ? (start - end - s - 1) / -s : 0;
    }
    first[static_cast<std::size_t>(axis)] = start;
    step[static_cast<std::size_t>(axis)] = s;
    count[static_cast<std::size_t>(axis)] = n;
  }
  expect(count == y.shape, where, "onnx.Slice gives " + shape_text(count) + ", the schedule says " + shape_text(y.shape));
  std::vector<long long> index(static_cast<std::size_t>(element_count(y.shape)));
  std::vector<long long> position(y.shape.size(), 0);
  for (std::size_t n = 0; n < index.size(); ++n) {
    long long source = 0;
    for (std::size_t i = 0; i < y.shape.size(); ++i) source = source * data.shape[i] + first[i] + position[i] * step[i];
    index[n] = source;
    for (std::size_t i = y.shape.size(); i-- > 0;) {
      if (++position[i] < y.shape[i]) break;
      position[i] = 0;
    }
  }
  gather(data, index, y, where);
}

// fpq.embedding: rows of `table` [R, ...] picked by int64 `indices` (negative counts from the end).
void embedding(const Tensor& table, const Tensor& indices, Tensor& y, const std::string& where) {
  expect(table.dtype == DType::F32 && indices.dtype == DType::I64 && !table.shape.empty(), where,
         "fpq.embedding takes an f32 table and int64 indices");
  const long long rows = table.shape[0];
  const std::size_t width = static_cast<std::size_t>(element_count(table.shape) / (rows ? rows : 1));
  for (std::size_t i = 0; i < indices.i64.size(); ++i) {
    long long row = indices.i64[i];
    if (row < -rows || row >= rows)
      throw HostError(where + ": fpq.embedding index " + std::to_string(row) + " out of range for a table of " +
                      std::to_string(rows) + " rows");
    row = row < 0 ? row + rows : row;
    std::memcpy(&y.f32[i * width], &table.f32[static_cast<std::size_t>(row) * width], width * sizeof(float));
  }
}

// fpq.split: equal chunks of the last axis, one per result.
void split(const Tensor& x, const std::vector<Tensor*>& results, const std::string& where) {
  const std::size_t parts = results.size(), last = static_cast<std::size_t>(x.shape.back());
  expect(parts > 0 && last % parts == 0, where, "fpq.split into unequal parts");
  const std::size_t chunk = last / parts, rows = x.f32.size() / last;
  for (std::size_t p = 0; p < parts; ++p) {
    expect(results[p]->f32.size() == rows * chunk, where, "fpq.split result of the wrong size");
    for (std::size_t r = 0; r < rows; ++r)
      std::memcpy(&results[p]->f32[r * chunk], &x.f32[r * last + p * chunk], chunk * sizeof(float));
  }
}

}  // namespace

bool is_host_op(const std::string& op) {
  static const char* const kOps[] = {"fpq.linear", "fpq.silu", "fpq.embedding", "fpq.split", "onnx.Add",
                                     "onnx.Slice", "onnx.Expand", "onnx.Unsqueeze", "onnx.Squeeze",
                                     "onnx.Reshape", "onnx.Identity", "onnx.Constant"};
  for (const char* known : kOps)
    if (op == known) return true;
  return false;
}

void linear_f32(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  const std::size_t n = static_cast<std::size_t>(w.shape[0]), k = static_cast<std::size_t>(w.shape[1]);
  const std::size_t rows = x.f32.size() / k;
  std::vector<double> transposed(n * k);  // w [N, K] as [K, N]: each row of y sums along k with unit stride
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < k; ++i) transposed[i * n + j] = static_cast<double>(w.f32[j * k + i]);
  std::vector<double> acc(n);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < n; ++j) acc[j] = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
      const double xi = static_cast<double>(x.f32[r * k + i]);
      const double* wi = &transposed[i * n];
      for (std::size_t j = 0; j < n; ++j) acc[j] = acc[j] + xi * wi[j];  // exact product, one rounding
    }
    for (std::size_t j = 0; j < n; ++j) {
      float v = static_cast<float>(acc[j]);
      if (bias != nullptr) v = v + bias->f32[j];
      y.f32[r * n + j] = v;
    }
  }
}

void run_host_op(const std::string& op, const std::vector<const Tensor*>& args, const std::vector<int>& slots,
                 const std::vector<Tensor*>& results, const std::string& where) {
  const std::string at = where + " (" + op + ")";
  if (op == "onnx.Slice") {
    expect(results.size() == 1, at, "one result");
    return slice(args, slots, *results[0], at);
  }
  for (std::size_t i = 0; i < slots.size(); ++i) expect(slots[i] == static_cast<int>(i), at, "an operand left out");
  if (op == "fpq.split") {
    expect(args.size() == 1 && args[0]->dtype == DType::F32, at, "fpq.split of one f32 tensor");
    return split(*args[0], results, at);
  }
  expect(results.size() == 1, at, "one result");
  Tensor& y = *results[0];
  if (op == "fpq.linear") {
    expect((args.size() == 2 || args.size() == 3) && args[1]->shape.size() == 2 && !args[0]->shape.empty() &&
               args[0]->shape.back() == args[1]->shape[1] && element_count(y.shape) ==
               element_count(args[0]->shape) / args[1]->shape[1] * args[1]->shape[0],
           at, "shapes that do not fit a linear layer");
    return linear_f32(*args[0], *args[1], args.size() == 3 ? args[2] : nullptr, y);
  }
  if (op == "fpq.silu") {
    expect(args.size() == 1 && args[0]->f32.size() == y.f32.size(), at, "one f32 operand of the result's size");
    for (std::size_t i = 0; i < y.f32.size(); ++i) y.f32[i] = fpqc::silu_f32(args[0]->f32[i]);
    return;
  }
  if (op == "fpq.embedding") {
    expect(args.size() == 2, at, "a table and indices");
    return embedding(*args[0], *args[1], y, at);
  }
  if (op == "onnx.Add") {
    expect(args.size() == 2, at, "two operands");
    return add(*args[0], *args[1], y, at);
  }
  if (op == "onnx.Expand") {
    expect(!args.empty(), at, "an operand");
    return gather(*args[0], broadcast_index(args[0]->shape, y.shape, at), y, at);
  }
  if (op == "onnx.Unsqueeze" || op == "onnx.Squeeze" || op == "onnx.Reshape" || op == "onnx.Identity") {
    expect(!args.empty(), at, "an operand");
    return copy_elements(*args[0], y, at);
  }
  throw HostError(at + ": the C++ host program does not implement this op; generate with `fpqc generate` instead");
}

}  // namespace fpqc_host
