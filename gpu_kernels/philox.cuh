// Philox4x32-10 (Salmon et al., SC'11), the same bits as tissue/kernels/random.py.
#pragma once

namespace tissue {

struct Words4 {
  unsigned int x, y, z, w;
};

__device__ __forceinline__ Words4 philox4x32_10(Words4 counter, unsigned int key0,
                                                unsigned int key1) {
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    if (round) {
      key0 += 0x9E3779B9u;
      key1 += 0xBB67AE85u;
    }
    const unsigned int hi0 = __umulhi(0xD2511F53u, counter.x);
    const unsigned int lo0 = 0xD2511F53u * counter.x;
    const unsigned int hi1 = __umulhi(0xCD9E8D57u, counter.z);
    const unsigned int lo1 = 0xCD9E8D57u * counter.z;
    counter = Words4{hi1 ^ counter.y ^ key0, lo1, hi0 ^ counter.w ^ key1, lo0};
  }
  return counter;
}

// A uniform float in (0, 1): ((x >> 8) | 1) * 2^-24, exact in float32.
__device__ __forceinline__ float bits_to_uniform(unsigned int x) {
  return (float)((x >> 8) | 1u) * 5.9604644775390625e-08f;
}

// The counter of a cell's draw: (id low, id high, step, purpose << 16 | block).
__device__ __forceinline__ Words4 cell_counter(long long id, unsigned int step,
                                               unsigned int purpose, unsigned int block) {
  const unsigned long long u = (unsigned long long)id;
  return Words4{(unsigned int)(u & 0xFFFFFFFFull), (unsigned int)(u >> 32), step,
                ((purpose & 0xFFFFu) << 16) | (block & 0xFFFFu)};
}

}  // namespace tissue
