// Pointwise helpers of the multigrid kernels; see tissue/kernels/multigrid.py.
#pragma once

namespace tissue {

struct Box {
  int nz, ny, nx;
};

// (A e)_p = diag_p e_p - dt s_p with s_p = sum of w_face e_neighbour over the six faces,
// added z-, z+, y-, y+, x-, x+. w_axis[q] is the face between q and its + neighbour; the
// voxel index p runs over (F, nz, ny, nx), so neighbours never cross fields.
__device__ __forceinline__ float apply(long long p, Box g, const float* wz, const float* wy,
                                      const float* wx, const float* diag, const float* e,
                                      float dt) {
  const int ix = (int)(p % g.nx);
  const int iy = (int)((p / g.nx) % g.ny);
  const int iz = (int)((p / ((long long)g.nx * g.ny)) % g.nz);
  const long long sz = (long long)g.ny * g.nx;
  const long long sy = g.nx;
  float s = 0.0f;
  if (iz > 0) s = s + wz[p - sz] * e[p - sz];
  if (iz < g.nz - 1) s = s + wz[p] * e[p + sz];
  if (iy > 0) s = s + wy[p - sy] * e[p - sy];
  if (iy < g.ny - 1) s = s + wy[p] * e[p + sy];
  if (ix > 0) s = s + wx[p - 1] * e[p - 1];
  if (ix < g.nx - 1) s = s + wx[p] * e[p + 1];
  return diag[p] * e[p] - dt * s;
}

}  // namespace tissue
