// Backward-Euler diffusion step by ADI passes and Jacobi smoothing.
// NumPy references (same float32 operations, same order): tissue/kernels/diffusion.py.
#include "diffusion.cuh"

using tissue::BARRIER;
using tissue::FIXED;
using tissue::FREE;

// delta = [(c_old - c) + dt (A c + S)] / (1 + dt (decay + uptake) [+ dt sum K if jacobi])
// at free voxels, 0 elsewhere. One thread per voxel.
extern "C" __global__ void be_residual(const float* c, const float* c_old, const unsigned char* labels,
                                       const float* diffusivity, const unsigned char* kind,
                                       const float* face_value, const float* source,
                                       const float* uptake, float* delta, int nz, int ny, int nx,
                                       float decay, float dt, float inv_z2, float inv_y2,
                                       float inv_x2, int jacobi) {
  const long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long n = (long long)nz * ny * nx;
  if (p >= n) return;
  const int ix = (int)(p % nx);
  const int iy = (int)((p / nx) % ny);
  const int iz = (int)(p / ((long long)nx * ny));
  const tissue::Grid3 g{nz, ny, nx};
  const unsigned char label = labels[p];
  int face;
  if (tissue::voxel_class(label, kind, face_value, iz, iy, ix, g, &face) != FREE) {
    delta[p] = 0.0f;
    return;
  }
  const float cp = c[p];
  const float dp = diffusivity[label];
  const unsigned char kp = kind[label];
  const long long stride[3] = {(long long)ny * nx, (long long)nx, 1};
  const int index[3] = {iz, iy, ix};
  const int extent[3] = {nz, ny, nx};
  const float inv[3] = {inv_z2, inv_y2, inv_x2};
  float flux = 0.0f;
  float conductance = 0.0f;
#pragma unroll
  for (int axis = 0; axis < 3; ++axis) {
    // minus neighbour, then plus neighbour
    float term = 0.0f;
    if (index[axis] > 0) {
      const long long q = p - stride[axis];
      const unsigned char lq = labels[q];
      const float k = tissue::face_diffusivity(dp, kp, diffusivity[lq], kind[lq]) * inv[axis];
      term = k * (c[q] - cp);
      conductance = conductance + k;
    }
    flux = flux + term;
    term = 0.0f;
    if (index[axis] < extent[axis] - 1) {
      const long long q = p + stride[axis];
      const unsigned char lq = labels[q];
      const float k = tissue::face_diffusivity(dp, kp, diffusivity[lq], kind[lq]) * inv[axis];
      term = k * (c[q] - cp);
      conductance = conductance + k;
    }
    flux = flux + term;
  }
  float loss = decay + uptake[p];
  const float residual = (c_old[p] - cp) + dt * ((flux + source[p]) - loss * cp);
  if (jacobi) loss = loss + conductance;
  delta[p] = residual / (1.0f + dt * loss);
}

// Solve (I - dt A_axis) x = delta in place along array axis 0 (z), 1 (y) or 2 (x); rows
// of fixed and barrier voxels are the identity. One thread per grid line; `scratch` holds
// the modified upper coefficients. coef = dt / spacing^2 of the axis.
extern "C" __global__ void thomas_sweep(float* delta, const unsigned char* labels,
                                        const float* diffusivity, const unsigned char* kind,
                                        const float* face_value, float* scratch, int nz, int ny,
                                        int nx, int axis, float coef) {
  const long long line = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  long long base, stride;
  int n, iz0, iy0, ix0;
  if (axis == 0) {
    if (line >= (long long)ny * nx) return;
    iy0 = (int)(line / nx);
    ix0 = (int)(line % nx);
    iz0 = 0;
    base = line;
    stride = (long long)ny * nx;
    n = nz;
  } else if (axis == 1) {
    if (line >= (long long)nz * nx) return;
    iz0 = (int)(line / nx);
    ix0 = (int)(line % nx);
    iy0 = 0;
    base = (long long)iz0 * ny * nx + ix0;
    stride = nx;
    n = ny;
  } else {
    if (line >= (long long)nz * ny) return;
    iz0 = (int)(line / ny);
    iy0 = (int)(line % ny);
    ix0 = 0;
    base = line * nx;
    stride = 1;
    n = nx;
  }
  const tissue::Grid3 g{nz, ny, nx};
  float c_prev = 0.0f;
  float d_prev = 0.0f;
  // properties of voxel i and its neighbours, carried along the line
  unsigned char label = labels[base];
  float d_here = diffusivity[label];
  unsigned char k_here = kind[label];
  float k_lower_face = 0.0f;  // face diffusivity to the previous voxel (i - 1)
  for (int i = 0; i < n; ++i) {
    const long long p = base + (long long)i * stride;
    const int iz = axis == 0 ? i : iz0;
    const int iy = axis == 1 ? i : iy0;
    const int ix = axis == 2 ? i : ix0;
    int face;
    const bool free = tissue::voxel_class(label, kind, face_value, iz, iy, ix, g, &face) == FREE;
    float upper_face = 0.0f;
    unsigned char next_label = 0;
    if (i < n - 1) {
      next_label = labels[p + stride];
      upper_face =
          tissue::face_diffusivity(d_here, k_here, diffusivity[next_label], kind[next_label]);
    }
    const float kl = (free && i > 0) ? k_lower_face * coef : 0.0f;
    const float ku = (free && i < n - 1) ? upper_face * coef : 0.0f;
    const float m = ((1.0f + kl) + ku) + kl * c_prev;
    c_prev = -ku / m;
    d_prev = (delta[p] + kl * d_prev) / m;
    scratch[p] = c_prev;
    delta[p] = d_prev;
    if (i < n - 1) {
      k_lower_face = upper_face;
      label = next_label;
      d_here = diffusivity[label];
      k_here = kind[label];
    }
  }
  float x_next = 0.0f;
  for (int i = n - 1; i >= 0; --i) {
    const long long p = base + (long long)i * stride;
    x_next = delta[p] - scratch[p] * x_next;
    delta[p] = x_next;
  }
}

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
