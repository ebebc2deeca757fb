// Counter-based random numbers; NumPy references in tissue/kernels/random.py.
#include "philox.cuh"

// out[i, 0:4]: four uniforms in (0, 1) of cell ids[i] at (step, purpose, block).
extern "C" __global__ void philox_uniform(const long long* ids, float* out, long long n,
                                          unsigned int step, unsigned int purpose,
                                          unsigned int block, unsigned int key0,
                                          unsigned int key1) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const tissue::Words4 bits =
      tissue::philox4x32_10(tissue::cell_counter(ids[i], step, purpose, block), key0, key1);
  out[4 * i + 0] = tissue::bits_to_uniform(bits.x);
  out[4 * i + 1] = tissue::bits_to_uniform(bits.y);
  out[4 * i + 2] = tissue::bits_to_uniform(bits.z);
  out[4 * i + 3] = tissue::bits_to_uniform(bits.w);
}

// out[i, 0:4]: Philox4x32-10 of counters[i, 0:4] under the key (for bit-exact tests).
extern "C" __global__ void philox_bits(const unsigned int* counters, unsigned int* out,
                                       long long n, unsigned int key0, unsigned int key1) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const tissue::Words4 c{counters[4 * i], counters[4 * i + 1], counters[4 * i + 2],
                         counters[4 * i + 3]};
  const tissue::Words4 bits = tissue::philox4x32_10(c, key0, key1);
  out[4 * i + 0] = bits.x;
  out[4 * i + 1] = bits.y;
  out[4 * i + 2] = bits.z;
  out[4 * i + 3] = bits.w;
}
