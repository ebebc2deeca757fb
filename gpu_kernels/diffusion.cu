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

// Gradients (units/um) of fields stack[fields[k]] at cells' voxels ijk (N, 3: ix, iy, iz):
// central differences, one-sided next to a voxel outside ``mask`` (a barrier) or the grid's
// edge, 0 along an axis with neither neighbour. out: (K, N, 3) float32, (x, y, z) per cell.
// One thread per cell; the mask's neighbours are read once for all K fields.
extern "C" __global__ void gradients(const float* stack, const int* fields, int n_fields,
                                     const bool* mask, const long long* ijk, long long n,
                                     int nz, int ny, int nx, float dx, float dy, float dz,
                                     float* out) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const long long index[3] = {ijk[3 * i], ijk[3 * i + 1], ijk[3 * i + 2]};
  const long long upper[3] = {nx, ny, nz};
  const long long stride[3] = {1, nx, (long long)nx * ny};
  const float spacing[3] = {dx, dy, dz};
  const long long voxels = (long long)nz * ny * nx;
  const long long centre = (index[2] * ny + index[1]) * nx + index[0];
  for (int axis = 0; axis < 3; ++axis) {
    bool lo_ok = index[axis] > 0;
    bool hi_ok = index[axis] < upper[axis] - 1;
    const long long lo = lo_ok ? centre - stride[axis] : centre;
    const long long hi = hi_ok ? centre + stride[axis] : centre;
    lo_ok = lo_ok && mask[lo];
    hi_ok = hi_ok && mask[hi];
    const float span = ((float)lo_ok + (float)hi_ok) * spacing[axis];
    const float divisor = span > 1e-30f ? span : 1e-30f;
    for (int k = 0; k < n_fields; ++k) {
      const float* c = stack + (long long)fields[k] * voxels;
      const float at = c[centre];
      const float c_lo = lo_ok ? c[lo] : at;
      const float c_hi = hi_ok ? c[hi] : at;
      out[((long long)k * n + i) * 3 + axis] = span > 0.0f ? (c_hi - c_lo) / divisor : 0.0f;
    }
  }
}
