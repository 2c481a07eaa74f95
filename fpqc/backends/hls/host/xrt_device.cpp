// xrt_device.cpp -- the board (or Vitis emulation) through XRT's native C++ API.
//
// Compiled only where XRT is installed (`make -C host xrt`).  The .xclbin of vitis/Makefile
// is loaded onto device `device_index`; every kernel has one compute unit (link.cfg's nk=).
// A buffer is an xrt::bo in the memory bank of the kernel argument it is first passed to.
#include <map>
#include <string>
#include <vector>

#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>
#include <xrt/xrt_kernel.h>

#include "device.h"
#include "error.h"

namespace fpqc_host {

namespace {

class XrtBuffer : public DeviceBuffer {
 public:
  XrtBuffer(xrt::bo bo, std::size_t bytes) : bo_(std::move(bo)), bytes_(bytes) {}
  std::size_t bytes() const override { return bytes_; }
  xrt::bo& bo() { return bo_; }

 private:
  xrt::bo bo_;
  std::size_t bytes_;
};

class XrtDevice : public Device {
 public:
  explicit XrtDevice(const DeviceOptions& options) : xclbin_path_(options.xclbin), index_(options.device_index) {
    if (xclbin_path_.empty()) throw HostError("the XRT host program needs --xclbin FILE (vitis/<target>/fpqc.xclbin)");
    try {
      device_ = xrt::device(index_);
      xclbin_ = xrt::xclbin(xclbin_path_);
      uuid_ = device_.load_xclbin(xclbin_);
      for (const xrt::xclbin::kernel& kernel : xclbin_.get_kernels()) {
        names_.push_back(kernel.get_name());
        kernels_.emplace(kernel.get_name(), xrt::kernel(device_, uuid_, kernel.get_name()));
      }
    } catch (const std::exception& e) {
      throw HostError("XRT device " + std::to_string(index_) + " with " + xclbin_path_ + ": " + e.what());
    }
  }

  std::string describe() const override { return "XRT device " + std::to_string(index_) + " (" + xclbin_path_ + ")"; }
  std::vector<std::string> kernel_names() const override { return names_; }
  std::string platform() const override { return xclbin_.get_xsa_name(); }

  int parameter_count(const std::string& kernel) const override {
    for (const xrt::xclbin::kernel& k : xclbin_.get_kernels())
      if (k.get_name() == kernel) return static_cast<int>(k.get_num_args());
    throw HostError(xclbin_path_ + " has no kernel " + kernel);
  }

  std::unique_ptr<DeviceBuffer> allocate(std::size_t bytes, const std::string& kernel, int parameter) override {
    try {
      xrt::bo bo(device_, bytes, find(kernel).group_id(parameter));
      return std::unique_ptr<DeviceBuffer>(new XrtBuffer(std::move(bo), bytes));
    } catch (const std::exception& e) {
      throw HostError("XRT: cannot allocate " + std::to_string(bytes) + " bytes for " + kernel + ": " + e.what());
    }
  }

  void write(DeviceBuffer& buffer, const void* data, std::size_t bytes) override {
    xrt::bo& bo = static_cast<XrtBuffer&>(buffer).bo();
    bo.write(data, bytes, 0);
    bo.sync(XCL_BO_SYNC_BO_TO_DEVICE);
  }

  void read(DeviceBuffer& buffer, void* data, std::size_t bytes) override {
    xrt::bo& bo = static_cast<XrtBuffer&>(buffer).bo();
    bo.sync(XCL_BO_SYNC_BO_FROM_DEVICE);
    bo.read(data, bytes, 0);
  }

  void launch(const std::string& kernel, const std::vector<KernelArg>& parameters, int rows) override {
    xrt::run run(find(kernel));
    int index = 0;
    for (const KernelArg& arg : parameters) {
      if (arg.buffer != nullptr) run.set_arg(index++, static_cast<XrtBuffer*>(arg.buffer)->bo());
      else run.set_arg(index++, arg.scalar);
    }
    if (rows >= 0) run.set_arg(index, rows);
    run.start();
    const ert_cmd_state state = run.wait();
    if (state != ERT_CMD_STATE_COMPLETED)
      throw HostError("XRT: kernel " + kernel + " ended in state " + std::to_string(static_cast<int>(state)));
  }

 private:
  xrt::kernel& find(const std::string& kernel) {
    auto found = kernels_.find(kernel);
    if (found == kernels_.end()) throw HostError(xclbin_path_ + " has no kernel " + kernel);
    return found->second;
  }

  std::string xclbin_path_;
  unsigned index_;
  xrt::device device_;
  xrt::xclbin xclbin_;
  xrt::uuid uuid_;
  std::vector<std::string> names_;
  std::map<std::string, xrt::kernel> kernels_;
};

}  // namespace

std::unique_ptr<Device> open_device(const DeviceOptions& options) {
  return std::unique_ptr<Device>(new XrtDevice(options));
}

}  // namespace fpqc_host
