// Multigrid hot paths of the implicit diffusion step, batched over fields.
// NumPy references (same float32 operations, same order): tissue/kernels/multigrid.py.
// Arrays are (F, nz, ny, nx), C order. No atomics: every sum runs in a fixed order.
#include "multigrid.cuh"

// out = dt ((flux + source) - loss c) at free voxels, 0 elsewhere, flux = sum over faces of
// k (c_neighbour - c), added z-, z+, y-, y+, x-, x+; k_axis[q] joins q and its + neighbour.
extern "C" __global__ void defect(const bool* free, const float* kz, const float* ky,
                                  const float* kx, const float* c, const float* source,
                                  const float* loss, float* out, int nf, int nz, int ny, int nx,
                                  float dt) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= (long long)nf * nz * ny * nx) return;
  if (!free[p]) {
    out[p] = 0.0f;
    return;
  }
  const int ix = (int)(p % nx);
  const int iy = (int)((p / nx) % ny);
  const int iz = (int)((p / ((long long)nx * ny)) % nz);
  const long long sz = (long long)ny * nx;
  const float cp = c[p];
  float flux = 0.0f;
  if (iz > 0) flux = flux + kz[p - sz] * (c[p - sz] - cp);
  if (iz < nz - 1) flux = flux + kz[p] * (c[p + sz] - cp);
  if (iy > 0) flux = flux + ky[p - nx] * (c[p - nx] - cp);
  if (iy < ny - 1) flux = flux + ky[p] * (c[p + nx] - cp);
  if (ix > 0) flux = flux + kx[p - 1] * (c[p - 1] - cp);
  if (ix < nx - 1) flux = flux + kx[p] * (c[p + 1] - cp);
  out[p] = dt * ((flux + source[p]) - loss[p] * cp);
}

// out = A e at free voxels, 0 elsewhere.
extern "C" __global__ void apply_operator(const bool* free, const float* wz, const float* wy,
                                          const float* wx, const float* fixedw,
                                          const float* mass, const float* diag, const float* e,
                                          float* out, int nf, int nz, int ny, int nx, float dt) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= (long long)nf * nz * ny * nx) return;
  if (!free[p]) {
    out[p] = 0.0f;
    return;
  }
  const tissue::Box box{nz, ny, nx};
  out[p] = tissue::apply(p, box, wz, wy, wx, fixedw, mass, e, dt);
}

// out = r - A e at free voxels, 0 elsewhere.
extern "C" __global__ void residual(const bool* free, const float* wz, const float* wy,
                                    const float* wx, const float* fixedw, const float* mass,
                                    const float* diag, const float* r, const float* e, float* out,
                                    int nf, int nz, int ny, int nx, float dt) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= (long long)nf * nz * ny * nx) return;
  if (!free[p]) {
    out[p] = 0.0f;
    return;
  }
  const tissue::Box box{nz, ny, nx};
  out[p] = r[p] - tissue::apply(p, box, wz, wy, wx, fixedw, mass, e, dt);
}

// out = e + omega ((r - A e) / diag) at free voxels, 0 elsewhere (a damped Jacobi step).
extern "C" __global__ void jacobi(const bool* free, const float* wz, const float* wy,
                                  const float* wx, const float* fixedw, const float* mass,
                                  const float* diag, const float* r, const float* e, float* out,
                                  int nf, int nz, int ny, int nx, float dt, float omega) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= (long long)nf * nz * ny * nx) return;
  if (!free[p]) {
    out[p] = 0.0f;
    return;
  }
  const tissue::Box box{nz, ny, nx};
  const float ae = tissue::apply(p, box, wz, wy, wx, fixedw, mass, e, dt);
  out[p] = e[p] + omega * ((r[p] - ae) / diag[p]);
}

// out = omega (r / diag) at free voxels, 0 elsewhere: a Jacobi step from e = 0.
extern "C" __global__ void jacobi_first(const bool* free, const float* diag, const float* r,
                                        float* out, long long n, float omega) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= n) return;
  out[p] = free[p] ? omega * (r[p] / diag[p]) : 0.0f;
}

// out[block] = the sum of the block's 2x2x2 children of `fine` (nz, ny, nx per field),
// added in z-major order of (dz, dy, dx). One thread per coarse voxel.
extern "C" __global__ void restrict_sum(const float* fine, float* out, int nf, int nz, int ny,
                                        int nx) {
  const int cz = (nz + 1) / 2, cy = (ny + 1) / 2, cx = (nx + 1) / 2;
  const long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= (long long)nf * cz * cy * cx) return;
  const int X = (int)(q % cx);
  const int Y = (int)((q / cx) % cy);
  const int Z = (int)((q / ((long long)cx * cy)) % cz);
  const long long f = q / ((long long)cx * cy * cz);
  const long long base = f * nz * ny * nx;
  float s = 0.0f;
  for (int dz = 0; dz < 2; ++dz) {
    const int z = 2 * Z + dz;
    if (z >= nz) continue;
    for (int dy = 0; dy < 2; ++dy) {
      const int y = 2 * Y + dy;
      if (y >= ny) continue;
      for (int dx = 0; dx < 2; ++dx) {
        const int x = 2 * X + dx;
        if (x >= nx) continue;
        s = s + fine[base + ((long long)z * ny + y) * nx + x];
      }
    }
  }
  out[q] = s;
}

// e += scale coarse[parent] at free voxels. One thread per fine voxel.
extern "C" __global__ void prolong_add(float* e, const float* coarse, const bool* free, int nf,
                                       int nz, int ny, int nx, float scale) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= (long long)nf * nz * ny * nx) return;
  if (!free[p]) return;
  const int cz = (nz + 1) / 2, cy = (ny + 1) / 2, cx = (nx + 1) / 2;
  const int x = (int)(p % nx);
  const int y = (int)((p / nx) % ny);
  const int z = (int)((p / ((long long)nx * ny)) % nz);
  const long long f = p / ((long long)nx * ny * nz);
  const long long parent = ((f * cz + z / 2) * cy + y / 2) * cx + x / 2;
  e[p] = e[p] + scale * coarse[parent];
}

// out[f, t] = sum over k of a[f, k lanes + t] b[f, k lanes + t] in double, k in order.
// One thread per field and lane; neighbouring lanes read neighbouring elements. The caller
// picks lanes so that no lane sums more than DOT_RUN elements (tissue.kernels.multigrid).
extern "C" __global__ void dot_partials(const float* a, const float* b, double* out, int nf,
                                        long long n, int lanes) {
  const long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= (long long)nf * lanes) return;
  const long long f = q / lanes;
  const int t = (int)(q % lanes);
  const float* af = a + f * n;
  const float* bf = b + f * n;
  double s = 0.0;
  for (long long i = t; i < n; i += lanes) s = s + (double)af[i] * (double)bf[i];
  out[q] = s;
}

// The conjugate-gradient glue, fused (one pass each instead of two to five array
// expressions). a: (F,) per field; n elements per field; the same roundings as NumPy's
// x += a p; r -= a q (a product, then a sum: --fmad=false keeps them two).
extern "C" __global__ void cg_step(float* x, float* r, const float* p, const float* q,
                                   const float* a, long long n, long long total) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const float af = a[i / n];
  x[i] = x[i] + af * p[i];
  r[i] = r[i] - af * q[i];
}

// p = p b + z (NumPy: p *= b; p += z).
extern "C" __global__ void cg_direction(float* p, const float* z, const float* b, long long n,
                                        long long total) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  p[i] = p[i] * b[i / n] + z[i];
}

// Per field and lane t (elements t, t + lanes, ...): the largest |r| / m (m = mass at free
// voxels, 1 elsewhere) and the largest |offset + x|, NaN if any of those is NaN (as NumPy's
// max). A maximum does not depend on order, so the caller's max over lanes is NumPy's.
extern "C" __global__ void error_partials(const float* r, const float* mass, const bool* free,
                                          const float* offset, const float* x, float* error,
                                          float* scale, int nf, long long n, int lanes) {
  const long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= (long long)nf * lanes) return;
  const long long base = (q / lanes) * n;
  float e = 0.0f, s = 0.0f;
  bool e_nan = false, s_nan = false;
  for (long long i = q % lanes; i < n; i += lanes) {
    const long long k = base + i;
    const float ev = fabsf(r[k]) / (free[k] ? mass[k] : 1.0f);
    const float sv = fabsf(offset[k] + x[k]);
    e_nan = e_nan || isnan(ev);
    s_nan = s_nan || isnan(sv);
    e = ev > e ? ev : e;
    s = sv > s ? sv : s;
  }
  error[q] = e_nan ? NAN : e;
  scale[q] = s_nan ? NAN : s;
}

// NumPy's maximum and minimum: a NaN operand is the result.
__device__ __forceinline__ float np_max(float a, float b) {
  return isnan(a) ? a : (isnan(b) ? b : (a > b ? a : b));
}
__device__ __forceinline__ double np_max(double a, double b) {
  return isnan(a) ? a : (isnan(b) ? b : (a > b ? a : b));
}
__device__ __forceinline__ double np_min(double a, double b) {
  return isnan(a) ? a : (isnan(b) ? b : (a < b ? a : b));
}

// One iteration's record of the k fields in the batch (field index[j] for thread j): the
// relative bound found from the maxima error and scale, the target set from it at the first
// iteration, and, for a field not converged before, its history row, bound and iteration,
// and whether it has converged now (out: now, (k,)).
extern "C" __global__ void cg_record(const float* error, const float* scale, const double* limit,
                                     double* target, const long long* index, bool* converged,
                                     float* history, float* bound, long long* iterations,
                                     bool* now, long long iteration, int first, int n_fields,
                                     float inv_bound_max, double reduction, double floor_,
                                     int k) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= k) return;
  const float e = error[j];
  float s = scale[j] > 0.0f ? scale[j] : e;
  s = np_max(s, e * inv_bound_max);
  const float found = e / (s > 0.0f ? s : 1.0f);
  if (first) target[j] = np_max(floor_, np_min(limit[j], reduction * (double)found));
  const long long f = index[j];
  const bool before = converged[f];
  const bool done = before || (double)found <= target[j];
  const long long row = iteration * n_fields + f;
  if (!before) {
    history[row] = found;
    bound[f] = found;
    iterations[f] = iteration;
  }
  converged[f] = done;
  now[j] = done;
}

// The step length per field: 0 where converged or where p.Ap is not positive, else r.z / p.Ap.
extern "C" __global__ void cg_alpha(const bool* now, const double* pq, const double* rz,
                                    float* alpha, int k) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= k) return;
  alpha[j] = (float)(now[j] ? 0.0 : (pq[j] > 0.0 ? rz[j] / pq[j] : 0.0));
}

// The direction's weight per field: r.z (new) / r.z (old), 0 where the old is not positive.
extern "C" __global__ void cg_beta(const double* rz_new, const double* rz, float* beta, int k) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= k) return;
  beta[j] = (float)(rz[j] > 0.0 ? rz_new[j] / rz[j] : 0.0);
}
