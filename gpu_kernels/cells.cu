// Cell hot paths: pair velocities through the cell grid, deposits into voxels.
// NumPy references (same float32 operations, same summation order): tissue/kernels/cells.py.
// Sums run in a fixed order in double precision and are rounded once: no atomics.

// The pair kernel's columns in bin order, in one pass: row i of each output is row
// order[i] of its input (positions 3 floats a row; radius, repulsion, adhesion, adhesion
// range, type and bin one value).
extern "C" __global__ void gather_bin_order(const int* order, const float* position,
                                            const float* radius, const float* repulsion,
                                            const float* adhesion, const float* adhesion_range,
                                            const short* cell_type, const int* cell_bin,
                                            float* out_position, float* out_radius,
                                            float* out_repulsion, float* out_adhesion,
                                            float* out_adhesion_range, short* out_cell_type,
                                            int* out_cell_bin, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int j = order[i];
  out_position[3 * i] = position[3 * j];
  out_position[3 * i + 1] = position[3 * j + 1];
  out_position[3 * i + 2] = position[3 * j + 2];
  out_radius[i] = radius[j];
  out_repulsion[i] = repulsion[j];
  out_adhesion[i] = adhesion[j];
  out_adhesion_range[i] = adhesion_range[j];
  out_cell_type[i] = cell_type[j];
  out_cell_bin[i] = cell_bin[j];
}

// Calls visit(begin, end) for the run [bin_start[nb], bin_start[nb + 1]) of the bin-sorted
// cells in each bin nb next to bin b (itself included), z-major from -1 to +1.
template <typename Visit>
__device__ __forceinline__ void for_neighbour_runs(int b, const int* bin_start, int bz_n,
                                                   int by_n, int bx_n, Visit visit) {
  const int bx = b % bx_n;
  const int by = (b / bx_n) % by_n;
  const int bz = b / (bx_n * by_n);
  for (int dz = -1; dz <= 1; ++dz) {
    const int nz = bz + dz;
    if (nz < 0 || nz >= bz_n) continue;
    for (int dy = -1; dy <= 1; ++dy) {
      const int ny = by + dy;
      if (ny < 0 || ny >= by_n) continue;
      for (int dx = -1; dx <= 1; ++dx) {
        const int nx = bx + dx;
        if (nx < 0 || nx >= bx_n) continue;
        const int nb = (nz * by_n + ny) * bx_n + nx;
        visit(bin_start[nb], bin_start[nb + 1]);
      }
    }
  }
}

// Velocity (um/min) of cell i from its neighbours: PhysiCell's repulsion
// sqrt(rep_i rep_j) (1 - d/R)^2 for d < R = r_i + r_j and adhesion sqrt(adh_i adh_j)
// (1 - d/Ra)^2 for d < Ra = a_i r_i + a_j r_j, along the line between centres; with
// n_types > 0, adh_i is times affinity[t_i, t_j] and adh_j times affinity[t_j, t_i]
// (row-major n_types x n_types; 0 types: no table, cell_type unread). All columns
// are in bin order (the launcher gathers them by `order`), so each neighbour bin is the
// contiguous run [bin_start[b], bin_start[b + 1]); the velocity of the i-th cell in bin
// order is written to row order[i] (array order). Neighbour bins are visited z-major from
// -1 to +1, cells in each bin in order.
extern "C" __global__ void pair_velocity(const float* position, const float* radius,
                                         const float* repulsion, const float* adhesion,
                                         const float* adhesion_range, const short* cell_type,
                                         const int* cell_bin, const int* bin_start,
                                         const int* order, const float* affinity,
                                         float* velocity, int n, int bz_n, int by_n, int bx_n,
                                         int n_types) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float xi = position[3 * i], yi = position[3 * i + 1], zi = position[3 * i + 2];
  const float ri = radius[i], rep_i = repulsion[i], adh_i = adhesion[i], ai = adhesion_range[i];
  const int ti = n_types > 0 ? cell_type[i] : 0;
  double vx = 0.0, vy = 0.0, vz = 0.0;
  // a vacant row (the bin past the last, sorted after every cell) has no velocity
  if (cell_bin[i] < bz_n * by_n * bx_n) {
    for_neighbour_runs(cell_bin[i], bin_start, bz_n, by_n, bx_n, [&](int begin, int end) {
      for (int j = begin; j < end; ++j) {
        if (j == i) continue;
        const float ddx = xi - position[3 * j];
        const float ddy = yi - position[3 * j + 1];
        const float ddz = zi - position[3 * j + 2];
        const float dist = sqrtf((ddx * ddx + ddy * ddy) + ddz * ddz);
        const float rj = radius[j];
        const float rr = ri + rj;
        const float ra = ai * ri + adhesion_range[j] * rj;
        if (!(dist > 0.0f && (dist < rr || dist < ra))) continue;
        const float t_rep = 1.0f - dist / rr;
        const float t_adh = 1.0f - dist / ra;
        const float rep = dist < rr ? sqrtf(rep_i * repulsion[j]) * t_rep * t_rep : 0.0f;
        float a_i = adh_i, a_j = adhesion[j];
        if (n_types > 0) {
          const int tj = cell_type[j];
          a_i = adh_i * affinity[ti * n_types + tj];
          a_j = a_j * affinity[tj * n_types + ti];
        }
        const float adh = dist < ra ? sqrtf(a_i * a_j) * t_adh * t_adh : 0.0f;
        const float f = (rep - adh) / dist;
        vx += (double)(f * ddx);
        vy += (double)(f * ddy);
        vz += (double)(f * ddz);
      }
    });
  }
  const int row = order[i];
  velocity[3 * row] = (float)vx;
  velocity[3 * row + 1] = (float)vy;
  velocity[3 * row + 2] = (float)vz;
}

// The sum in double of column `col` of values over the run of equal voxels in
// `sorted_voxel` that starts at k, the cells taken in `order` (so in cell order).
template <typename T>
__device__ double run_sum(const long long* sorted_voxel, const long long* order,
                          const T* values, long long n, int n_cols, int col, long long k) {
  const long long v = sorted_voxel[k];
  double sum = 0.0;
  for (long long j = k; j < n && sorted_voxel[j] == v; ++j) {
    sum += (double)values[order[j] * n_cols + col];
  }
  return sum;
}

// Whether k starts a run of a voxel that counts (voxel n_voxels holds vacant rows).
__device__ __forceinline__ bool run_head(const long long* sorted_voxel, long long k,
                                         long long n_voxels) {
  const long long v = sorted_voxel[k];
  return v < n_voxels && (k == 0 || sorted_voxel[k - 1] != v);
}

// out[col, v] = sum of values[cell, col] over the cells in voxel v, in cell order.
// `sorted_voxel` is the cells' voxels sorted stably, `order` the sorting permutation; the
// first thread of each voxel's run sums the run in double and rounds once to T.
template <typename T>
__device__ void deposit_run(const long long* sorted_voxel, const long long* order,
                            const T* values, T* out, long long n, int n_cols, long long n_voxels) {
  const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n || !run_head(sorted_voxel, k, n_voxels)) return;
  for (int col = 0; col < n_cols; ++col) {
    out[col * n_voxels + sorted_voxel[k]] =
        (T)run_sum(sorted_voxel, order, values, n, n_cols, col, k);
  }
}

extern "C" __global__ void deposit_sorted(const long long* sorted_voxel, const long long* order,
                                          const float* values, float* out, long long n,
                                          int n_cols, long long n_voxels) {
  deposit_run(sorted_voxel, order, values, out, n, n_cols, n_voxels);
}

extern "C" __global__ void deposit_sorted_f64(const long long* sorted_voxel,
                                              const long long* order, const double* values,
                                              double* out, long long n, int n_cols,
                                              long long n_voxels) {
  deposit_run(sorted_voxel, order, values, out, n, n_cols, n_voxels);
}

// The next candidate target of attacker i above id `after`: the eligible cell j != i with
// the smallest id greater than `after` (-1 when none). Eligible: score[j] > 0, touching
// (distance < reach_i + reach_j), within max_distance and in the same search box. Writes
// the candidates' count to *count and the found cell's row and distance.
__device__ long long next_target(int i, long long after, const float* position,
                                 const float* reach, const float* score, const long long* box,
                                 const long long* id, const int* cell_bin, const int* order,
                                 const int* bin_start, int bz_n, int by_n, int bx_n,
                                 float max_distance, int* count, long long* row, float* distance) {
  const float xi = position[3 * i], yi = position[3 * i + 1], zi = position[3 * i + 2];
  long long best = -1;
  int n = 0;
  for_neighbour_runs(cell_bin[i], bin_start, bz_n, by_n, bx_n, [&](int begin, int end) {
    for (int k = begin; k < end; ++k) {
      const int j = order[k];
      if (j == i || !(score[j] > 0.0f) || box[j] != box[i]) continue;
      const float ddx = xi - position[3 * j];
      const float ddy = yi - position[3 * j + 1];
      const float ddz = zi - position[3 * j + 2];
      const float dist = sqrtf((ddx * ddx + ddy * ddy) + ddz * ddz);
      if (!(dist < reach[i] + reach[j]) || !(dist <= max_distance)) continue;
      ++n;
      if (id[j] > after && (best < 0 || id[j] < best)) {
        best = id[j];
        *row = j;
        *distance = dist;
      }
    }
  });
  *count = n;
  return best;
}

// One target for each free attacker (free[i] != 0): of its n eligible candidates (see
// next_target), the one of rank min(floor(u[i] n), n - 1) in id order, found by stepping
// through the candidates in id order. chosen[i] is its row (-1 for no candidate or a busy
// attacker) and distance[i] its distance (um, 0 when none). No writes but row i.
extern "C" __global__ void choose_targets(const float* position, const float* reach,
                                          const float* score, const long long* box,
                                          const long long* id, const unsigned char* free,
                                          const float* u, const int* cell_bin, const int* order,
                                          const int* bin_start, long long* chosen,
                                          float* distance, float* options, int n, int bz_n,
                                          int by_n, int bx_n, float max_distance) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  chosen[i] = -1;
  distance[i] = 0.0f;
  options[i] = 0.0f;
  if (!free[i]) return;
  int count = 0;
  long long row = -1;
  float dist = 0.0f;
  long long current = next_target(i, -1, position, reach, score, box, id, cell_bin, order,
                                  bin_start, bz_n, by_n, bx_n, max_distance, &count, &row, &dist);
  if (count == 0) return;
  long long rank = (long long)(u[i] * (float)count);
  if (rank > count - 1) rank = count - 1;
  for (long long step = 0; step < rank; ++step) {
    current = next_target(i, current, position, reach, score, box, id, cell_bin, order,
                          bin_start, bz_n, by_n, bx_n, max_distance, &count, &row, &dist);
  }
  chosen[i] = row;
  distance[i] = dist;
  options[i] = (float)count;
}

// Cells of type `target` (live ones with `live_only`) touching each cell of type `query` (distance < reach_i +
// reach_j, j != i), as float; 0 for the other cells. One thread per cell in array order,
// walking the neighbour bins' runs of the bin-sorted cells (vacant rows are in none). The
// count is an integer, so the order of the walk does not matter.
extern "C" __global__ void count_contacts(const float* position, const float* reach,
                                          const short* type, const signed char* state,
                                          const int* cell_bin, const int* order,
                                          const int* bin_start, float* out, int n, int bz_n,
                                          int by_n, int bx_n, int query, int target,
                                          int live_only) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  if (type[i] != query || cell_bin[i] >= bz_n * by_n * bx_n) {
    out[i] = 0.0f;
    return;
  }
  const float xi = position[3 * i], yi = position[3 * i + 1], zi = position[3 * i + 2];
  int count = 0;
  for_neighbour_runs(cell_bin[i], bin_start, bz_n, by_n, bx_n, [&](int begin, int end) {
    for (int k = begin; k < end; ++k) {
      const int j = order[k];
      if (j == i || type[j] != target || (live_only && state[j] != 0)) continue;
      const float ddx = xi - position[3 * j];
      const float ddy = yi - position[3 * j + 1];
      const float ddz = zi - position[3 * j + 2];
      if (sqrtf((ddx * ddx + ddy * ddy) + ddz * ddz) < reach[i] + reach[j]) ++count;
    }
  });
  out[i] = (float)count;
}

// PhysiCell's simple pressure of each cell: the sum over the other cells j closer than
// R = radius_i + radius_j of (1 - d/R)^2, over 12 (1 - sqrt(pi / (2 sqrt 3)))^2 (12 neighbours
// at close packing give 1); summed in double and rounded once, so the walk's order does not
// matter. Vacant rows (outside every bin) get 0.
extern "C" __global__ void simple_pressure(const float* position, const float* radius,
                                           const int* cell_bin, const int* order,
                                           const int* bin_start, float* out, int n, int bz_n,
                                           int by_n, int bx_n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  if (cell_bin[i] >= bz_n * by_n * bx_n) {
    out[i] = 0.0f;
    return;
  }
  const float xi = position[3 * i], yi = position[3 * i + 1], zi = position[3 * i + 2];
  double sum = 0.0;
  for_neighbour_runs(cell_bin[i], bin_start, bz_n, by_n, bx_n, [&](int begin, int end) {
    for (int k = begin; k < end; ++k) {
      const int j = order[k];
      if (j == i) continue;
      const float ddx = xi - position[3 * j];
      const float ddy = yi - position[3 * j + 1];
      const float ddz = zi - position[3 * j + 2];
      const float d = sqrtf((ddx * ddx + ddy * ddy) + ddz * ddz);
      const float r = radius[i] + radius[j];
      if (d < r) {
        const double q = 1.0 - (double)d / (double)r;
        sum += q * q;
      }
    }
  });
  out[i] = (float)(sum / 0.027288820670331);
}

// out[v] += the sum of values[cell, col] over the cells in voxel v (in cell order, in double,
// rounded once to float), only for voxels that hold a cell: a sparse deposit into a
// full-size array (nothing zero-filled). `sorted_voxel` and `order` as for deposit_run;
// voxel n_voxels (vacant rows) is left out. One thread per run head: no atomics.
extern "C" __global__ void deposit_add(const long long* sorted_voxel, const long long* order,
                                       const float* values, float* out, long long n,
                                       int n_cols, int col, long long n_voxels) {
  const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n || !run_head(sorted_voxel, k, n_voxels)) return;
  const long long v = sorted_voxel[k];
  out[v] = out[v] + (float)run_sum(sorted_voxel, order, values, n, n_cols, col, k);
}

// Whether a cell of type t may stand at p (x, y, z um): inside the box [lo, hi) and in a
// voxel whose label its type may enter (allowed: (n_types, 256)). A negative t (a vacant
// row) reads row t + n_types, as NumPy's index does.
__device__ __forceinline__ bool allowed_at(const float* p, int t, const unsigned char* labels,
                                           const bool* allowed, int n_types, const float* lo,
                                           const float* spacing, const float* hi,
                                           const long long* shape_xyz) {
  bool inside = true;
  long long ijk[3];
  for (int a = 0; a < 3; ++a) {
    inside = inside && p[a] >= lo[a] && p[a] < hi[a];
    long long i = (long long)floorf((p[a] - lo[a]) / spacing[a]);
    i = i < 0 ? 0 : i;
    ijk[a] = i > shape_xyz[a] - 1 ? shape_xyz[a] - 1 : i;
  }
  const long long flat = (ijk[2] * shape_xyz[1] + ijk[1]) * shape_xyz[0] + ijk[0];
  const int row = t < 0 ? t + n_types : t;
  return inside && allowed[(long long)row * 256 + labels[flat]];
}

// A mechanics step's moves, from old to new positions (N, 3): a cell whose new position
// is not allowed moves axis by axis (x, then y, then z), each axis only where that keeps
// it allowed, so that it slides along walls. out: the positions taken.
extern "C" __global__ void cut_moves(const float* old, const float* moved, const short* cell_type,
                                     const unsigned char* labels, const bool* allowed,
                                     int n_types, float ox, float oy, float oz, float dx,
                                     float dy, float dz, float hx, float hy, float hz, int nx,
                                     int ny, int nz, float* out, long long n) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float lo[3] = {ox, oy, oz};
  const float spacing[3] = {dx, dy, dz};
  const float hi[3] = {hx, hy, hz};
  const long long shape_xyz[3] = {nx, ny, nz};
  const int t = cell_type[i];
  const float target[3] = {moved[3 * i], moved[3 * i + 1], moved[3 * i + 2]};
  float position[3] = {old[3 * i], old[3 * i + 1], old[3 * i + 2]};
  if (allowed_at(target, t, labels, allowed, n_types, lo, spacing, hi, shape_xyz)) {
    for (int a = 0; a < 3; ++a) position[a] = target[a];
  } else {
    for (int a = 0; a < 3; ++a) {
      float trial[3] = {position[0], position[1], position[2]};
      trial[a] = target[a];
      if (allowed_at(trial, t, labels, allowed, n_types, lo, spacing, hi, shape_xyz))
        position[a] = target[a];
    }
  }
  for (int a = 0; a < 3; ++a) out[3 * i + a] = position[a];
}

// Rows (N, 3) over their lengths, 0 where the length is 0 (PhysiCell's normalize); the
// length's squares are added x, y, then z, as NumPy's sum along a row of three.
extern "C" __global__ void unit_rows(const float* v, float* out, long long n) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = v[3 * i], y = v[3 * i + 1], z = v[3 * i + 2];
  const float length = sqrtf((x * x + y * y) + z * z);
  const float divisor = length > 1e-30f ? length : 1e-30f;
  out[3 * i] = length > 0.0f ? x / divisor : 0.0f;
  out[3 * i + 1] = length > 0.0f ? y / divisor : 0.0f;
  out[3 * i + 2] = length > 0.0f ? z / divisor : 0.0f;
}
