// fingerprint.h -- how the host program recognises the schedule it was generated with.
#ifndef FPQC_HOST_FINGERPRINT_H
#define FPQC_HOST_FINGERPRINT_H

#include <cstdint>
#include <string>

namespace fpqc_host {

// zlib's CRC-32 of `bytes` (reflected polynomial 0xedb88320) in the high 32 bits, their Adler-32 in the
// low 32 bits: fpqc.backends.hls.host_program.fingerprint computes the same with Python's zlib.
std::uint64_t fingerprint(const std::string& bytes);

}  // namespace fpqc_host

#endif
