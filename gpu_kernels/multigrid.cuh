// Pointwise helpers of the multigrid kernels; see tissue/kernels/multigrid.py.
#pragma once

namespace tissue {

struct Box {
  int nz, ny, nx;
};

// (A e)_p = mass_p e_p + dt (s_p + fixedw_p e_p), s_p = sum over faces of w (e_p - e_q), in
// the order z-, z+, y-, y+, x-, x+: minus neighbours as s + w (e_p - e_q), plus neighbours as
// s - w (e_q - e_p) (the NumPy reference's expressions). w_axis[q] is the face between q and
// its + neighbour; p runs over (F, nz, ny, nx), so neighbours never cross fields.
__device__ __forceinline__ float apply(long long p, Box g, const float* wz, const float* wy,
                                      const float* wx, const float* fixedw, const float* mass,
                                      const float* e, float dt) {
  const int ix = (int)(p % g.nx);
  const int iy = (int)((p / g.nx) % g.ny);
  const int iz = (int)((p / ((long long)g.nx * g.ny)) % g.nz);
  const long long sz = (long long)g.ny * g.nx;
  const long long sy = g.nx;
  const float ep = e[p];
  float s = 0.0f;
  if (iz > 0) s = s + wz[p - sz] * (ep - e[p - sz]);
  if (iz < g.nz - 1) s = s - wz[p] * (e[p + sz] - ep);
  if (iy > 0) s = s + wy[p - sy] * (ep - e[p - sy]);
  if (iy < g.ny - 1) s = s - wy[p] * (e[p + sy] - ep);
  if (ix > 0) s = s + wx[p - 1] * (ep - e[p - 1]);
  if (ix < g.nx - 1) s = s - wx[p] * (e[p + 1] - ep);
  return mass[p] * ep + dt * (s + fixedw[p] * ep);
}

}  // namespace tissue
