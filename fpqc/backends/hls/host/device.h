// device.h -- where the kernels run: the small interface the host program talks to.
//
// Two implementations, one linked into each host program:
//   csim_device.cpp  the C simulation: the build's kernels compiled with g++ and called in-process
//   xrt_device.cpp   the board (or Vitis emulation) through XRT: xrt::device, xrt::kernel, xrt::bo
#ifndef FPQC_HOST_DEVICE_H
#define FPQC_HOST_DEVICE_H

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace fpqc_host {

// Memory the kernels' ports read and write.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  virtual std::size_t bytes() const = 0;
};

// One parameter of a launch: a buffer for a port, or a scalar register (buffer == nullptr).
struct KernelArg {
  DeviceBuffer* buffer = nullptr;
  long long scalar = 0;
};

class Device {
 public:
  virtual ~Device() = default;

  // "the C simulation", "XRT device 0 (fpqc.xclbin)": for messages.
  virtual std::string describe() const = 0;
  // The kernels it can launch.
  virtual std::vector<std::string> kernel_names() const = 0;
  // The Vitis platform the kernels were linked for; empty when there is none (the C simulation).
  virtual std::string platform() const = 0;
  // The number of parameters of a kernel's top function (checked against the schedule).
  virtual int parameter_count(const std::string& kernel) const = 0;

  // Memory for parameter `parameter` of `kernel` (its memory bank on a board).
  virtual std::unique_ptr<DeviceBuffer> allocate(std::size_t bytes, const std::string& kernel, int parameter) = 0;
  virtual void write(DeviceBuffer& buffer, const void* data, std::size_t bytes) = 0;
  virtual void read(DeviceBuffer& buffer, void* data, std::size_t bytes) = 0;
  // Run `kernel` on `parameters` (its top function's, in order; the launch's rows last when rows >= 0)
  // and wait until it is done.
  virtual void launch(const std::string& kernel, const std::vector<KernelArg>& parameters, int rows) = 0;
};

// Where to find the device (command-line options).
struct DeviceOptions {
  std::string xclbin;          // XRT: the packaged .xclbin
  unsigned device_index = 0;   // XRT: which device
};

// The device of this host program (defined by the linked implementation).
std::unique_ptr<Device> open_device(const DeviceOptions& options);

}  // namespace fpqc_host

#endif
