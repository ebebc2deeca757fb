// Voxel classes of the diffusion step; see tissue/kernels/diffusion.py.
#pragma once

namespace tissue {

constexpr unsigned char FREE = 0;
constexpr unsigned char FIXED = 1;
constexpr unsigned char BARRIER = 2;

struct Grid3 {
  int nz, ny, nx;
};

// Class of voxel (iz, iy, ix) with label `label`: the label's kind, except that a free
// voxel in the outer layer of a Dirichlet face is fixed. face_value order: z-, z+, y-, y+,
// x-, x+ (NaN: no-flux); the first matching face wins and its index goes to *face (else -1).
__device__ __forceinline__ unsigned char voxel_class(unsigned char label, const unsigned char* kind,
                                                     const float* face_value, int iz, int iy,
                                                     int ix, Grid3 g, int* face) {
  *face = -1;
  const unsigned char k = kind[label];
  if (k != FREE) return k;
  const bool on_face[6] = {iz == 0, iz == g.nz - 1, iy == 0, iy == g.ny - 1, ix == 0,
                           ix == g.nx - 1};
#pragma unroll
  for (int f = 0; f < 6; ++f) {
    const float v = face_value[f];
    if (on_face[f] && v == v) {
      *face = f;
      return FIXED;
    }
  }
  return FREE;
}

}  // namespace tissue
