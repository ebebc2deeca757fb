// The end of a diffusion step: the solution, fixed values and barriers written into the field.
// NumPy reference (same float32 operations): tissue/kernels/diffusion.py.
#include "diffusion.cuh"

using tissue::BARRIER;
using tissue::FIXED;
using tissue::FREE;

// c = max(x, 0) at free voxels, the fixed value at fixed voxels, 0 at barriers.
extern "C" __global__ void finish_step(float* c, const float* x, const unsigned char* labels,
                                       const unsigned char* kind, const float* fixed,
                                       const float* face_value, int nz, int ny, int nx) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= (long long)nz * ny * nx) return;
  const int ix = (int)(p % nx);
  const int iy = (int)((p / nx) % ny);
  const int iz = (int)(p / ((long long)nx * ny));
  const unsigned char label = labels[p];
  int face;
  const unsigned char cls = tissue::voxel_class(label, kind, face_value, iz, iy, ix, {nz, ny, nx}, &face);
  const float xp = x[p];
  float out = xp > 0.0f ? xp : 0.0f;
  if (cls == FIXED) out = face >= 0 ? face_value[face] : fixed[label];
  if (cls == BARRIER) out = 0.0f;
  c[p] = out;
}
