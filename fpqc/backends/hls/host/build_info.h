// build_info.h -- what the host program was generated for (build_info.cpp is generated with the build).
#ifndef FPQC_HOST_BUILD_INFO_H
#define FPQC_HOST_BUILD_INFO_H

#include <cstdint>

namespace fpqc_host {

extern const char* const kFpqcVersion;             // the fpqc that wrote the build
extern const char* const kPlatform;                // the Vitis platform of the build's target
extern const char* const kScheduleFormat;          // host_schedule.json's "format"
extern const std::uint64_t kScheduleFingerprint;   // fingerprint() of host_schedule.json's bytes

}  // namespace fpqc_host

#endif
