// csim_device.cpp -- the C-simulation device: the kernels' C++ (what Vitis HLS synthesizes), called in-process.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "csim_kernels.h"
#include "device.h"
#include "error.h"

namespace fpqc_host {

namespace {

// Host memory, 64-byte aligned like an AXI word of 512 bits.
class CsimBuffer : public DeviceBuffer {
 public:
  explicit CsimBuffer(std::size_t bytes) : bytes_(bytes) {
    void* memory = nullptr;
    if (posix_memalign(&memory, 64, bytes == 0 ? 64 : bytes) != 0) throw HostError("out of memory for a kernel buffer");
    std::memset(memory, 0, bytes == 0 ? 64 : bytes);
    data_ = memory;
  }
  ~CsimBuffer() override { std::free(data_); }
  CsimBuffer(const CsimBuffer&) = delete;
  CsimBuffer& operator=(const CsimBuffer&) = delete;

  std::size_t bytes() const override { return bytes_; }
  void* data() { return data_; }

 private:
  std::size_t bytes_;
  void* data_;
};

class CsimDevice : public Device {
 public:
  std::string describe() const override { return "the C simulation"; }

  std::vector<std::string> kernel_names() const override {
    std::vector<std::string> names;
    for (int i = 0; i < kCsimKernelCount; ++i) names.push_back(kCsimKernels[i].name);
    return names;
  }

  std::string platform() const override { return ""; }

  int parameter_count(const std::string& kernel) const override { return find(kernel).parameters; }

  std::unique_ptr<DeviceBuffer> allocate(std::size_t bytes, const std::string&, int) override {
    return std::unique_ptr<DeviceBuffer>(new CsimBuffer(bytes));
  }

  void write(DeviceBuffer& buffer, const void* data, std::size_t bytes) override {
    std::memcpy(static_cast<CsimBuffer&>(buffer).data(), data, bytes);
  }

  void read(DeviceBuffer& buffer, void* data, std::size_t bytes) override {
    std::memcpy(data, static_cast<CsimBuffer&>(buffer).data(), bytes);
  }

  void launch(const std::string& kernel, const std::vector<KernelArg>& parameters, int rows) override {
    std::vector<void*> pointers;
    std::vector<long long> scalars;
    for (const KernelArg& arg : parameters) {
      pointers.push_back(arg.buffer != nullptr ? static_cast<CsimBuffer*>(arg.buffer)->data() : nullptr);
      scalars.push_back(arg.scalar);
    }
    find(kernel).launch(pointers.data(), scalars.data(), rows);
  }

 private:
  const CsimKernel& find(const std::string& kernel) const {
    for (int i = 0; i < kCsimKernelCount; ++i)
      if (kernel == kCsimKernels[i].name) return kCsimKernels[i];
    throw HostError("the C simulation has no kernel " + kernel + "; rebuild the host program from this build");
  }
};

}  // namespace

std::unique_ptr<Device> open_device(const DeviceOptions&) { return std::unique_ptr<Device>(new CsimDevice()); }

}  // namespace fpqc_host
