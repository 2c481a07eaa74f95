// build_check.h -- the host program refuses a build, or a device, it was not generated for.
#ifndef FPQC_HOST_BUILD_CHECK_H
#define FPQC_HOST_BUILD_CHECK_H

#include <string>

#include "device.h"
#include "json.h"
#include "schedule.h"

namespace fpqc_host {

// Check BUILD/manifest.json (fpqc version, platform, kernel names), host_schedule.json (format
// and fingerprint) and the device (its kernels, their parameters and, on a board, its platform)
// against what this host program was generated for; one HostError naming the mismatch.
void check_build(const std::string& build, const Json& manifest, const std::string& schedule_text,
                 const Schedule& schedule, const Device& device);

}  // namespace fpqc_host

#endif
