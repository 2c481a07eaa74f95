// error.h -- the one exception of the fpqc host program.
#ifndef FPQC_HOST_ERROR_H
#define FPQC_HOST_ERROR_H

#include <stdexcept>
#include <string>

namespace fpqc_host {

// A failure the host program reports as one `error: ...` line, exit status 1.
class HostError : public std::runtime_error {
 public:
  explicit HostError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fpqc_host

#endif
