// fingerprint.cpp -- how the host program recognises its schedule (fingerprint.h).
#include "fingerprint.h"

namespace fpqc_host {

std::uint64_t fingerprint(const std::string& bytes) {
  std::uint32_t table[256];
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  std::uint32_t crc = 0xffffffffu, low = 1, high = 0;
  for (unsigned char c : bytes) {
    crc = table[(crc ^ c) & 0xffu] ^ (crc >> 8);
    low = (low + c) % 65521u;
    high = (high + low) % 65521u;
  }
  return static_cast<std::uint64_t>(crc ^ 0xffffffffu) << 32 | (static_cast<std::uint64_t>(high) << 16 | low);
}

}  // namespace fpqc_host
