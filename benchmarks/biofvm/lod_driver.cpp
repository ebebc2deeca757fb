// Times BioFVM's own LOD diffusion step with cell uptake on a given grid, for
// benchmarks/bench_diffusion.py (section "biofvm"). Built by build.sh against a PhysiCell
// checkout (PHYSICELL_DIR); no BioFVM source is copied here.
//
//   lod_driver SETUP INITIAL [--steps 100] [--dt 0.01] [--warmup 1] [--repeats 5]
//              [--field-out PATH]
//
// SETUP (text): line 1 "nx ny nz dx_um diffusion_um2_per_min decay_per_min dirichlet_value",
// then one agent per line "x_um y_um z_um volume_um3 uptake_per_min". INITIAL: nx*ny*nz
// little-endian float64 densities in BioFVM's voxel order (x fastest, then y, then z).
//
// The microenvironment is BioFVM's global one: one substrate with the given D and decay on
// [0, n dx]^3, Dirichlet nodes at the given value on every voxel of the six outer faces (as
// PhysiCell's outer Dirichlet conditions), the LOD solver
// diffusion_decay_solver__constant_coefficients_LOD_3D. Each agent is a Basic_Agent with
// that volume and uptake rate (no secretion). A step is PhysiCell's order:
// simulate_diffusion_decay(dt), then simulate_cell_sources_and_sinks(dt).
//
// Each repeat restores INITIAL (untimed) and times `steps` steps with steady_clock; warm-up
// repeats run the same untimed. Prints one JSON object on stdout. --field-out writes the
// field after one more run of `steps` steps from INITIAL (float64, voxel order).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <omp.h>

#include "BioFVM.h"

using namespace BioFVM;

namespace {

struct Agent {
  double x, y, z, volume, uptake;
};

struct Setup {
  int nx = 0, ny = 0, nz = 0;
  double dx = 0, diffusion = 0, decay = 0, dirichlet = 0;
  std::vector<Agent> agents;
};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "lod_driver: " << message << std::endl;
  std::exit(2);
}

Setup read_setup(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read " + path);
  Setup s;
  if (!(in >> s.nx >> s.ny >> s.nz >> s.dx >> s.diffusion >> s.decay >> s.dirichlet))
    fail("bad header in " + path);
  Agent a;
  while (in >> a.x >> a.y >> a.z >> a.volume >> a.uptake) s.agents.push_back(a);
  return s;
}

std::vector<double> read_field(const std::string& path, std::size_t n) {
  std::vector<double> values(n);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f || std::fread(values.data(), sizeof(double), n, f) != n) fail("cannot read " + path);
  std::fclose(f);
  return values;
}

void write_field(const std::string& path, Microenvironment& m) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail("cannot write " + path);
  for (unsigned int n = 0; n < m.number_of_voxels(); n++)
    std::fwrite(&m.density_vector(n)[0], sizeof(double), 1, f);
  std::fclose(f);
}

void restore(Microenvironment& m, const std::vector<double>& initial) {
  for (unsigned int n = 0; n < m.number_of_voxels(); n++) m.density_vector(n)[0] = initial[n];
}

void run(Microenvironment& m, int steps, double dt) {
  for (int i = 0; i < steps; i++) {
    m.simulate_diffusion_decay(dt);
    m.simulate_cell_sources_and_sinks(dt);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) fail("usage: lod_driver SETUP INITIAL [--steps N] [--dt MIN] [--warmup N] "
                     "[--repeats N] [--field-out PATH]");
  int steps = 100, warmup = 1, repeats = 5;
  double dt = 0.01;
  std::string field_out;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--steps") steps = std::atoi(value.c_str());
    else if (key == "--dt") dt = std::atof(value.c_str());
    else if (key == "--warmup") warmup = std::atoi(value.c_str());
    else if (key == "--repeats") repeats = std::atoi(value.c_str());
    else if (key == "--field-out") field_out = value;
    else fail("unknown option " + key);
  }
  if (steps < 1 || repeats < 1 || warmup < 0 || !(dt > 0)) fail("bad options");
  Setup s = read_setup(argv[1]);

  Microenvironment& m = microenvironment;  // BioFVM's global: the agents' default
  m.name = "lod_driver";
  m.spatial_units = "micron";
  m.time_units = "min";
  m.set_density(0, "oxygen", "mmHg", s.diffusion, s.decay);
  m.resize_space(0.0, s.nx * s.dx, 0.0, s.ny * s.dx, 0.0, s.nz * s.dx, s.dx, s.dx, s.dx);
  m.diffusion_decay_solver = diffusion_decay_solver__constant_coefficients_LOD_3D;
  Agent_Container container;
  m.agent_container = &container;
  if (m.number_of_voxels() != static_cast<unsigned int>(s.nx * s.ny * s.nz))
    fail("grid size mismatch");
  std::vector<double> initial = read_field(argv[2], m.number_of_voxels());
  restore(m, initial);
  int dirichlet_nodes = 0;
  for (int k = 0; k < s.nz; k++)
    for (int j = 0; j < s.ny; j++)
      for (int i = 0; i < s.nx; i++)
        if (i == 0 || j == 0 || k == 0 || i == s.nx - 1 || j == s.ny - 1 || k == s.nz - 1) {
          m.update_dirichlet_node(m.voxel_index(i, j, k), 0, s.dirichlet);
          dirichlet_nodes++;
        }

  for (const Agent& a : s.agents) {
    Basic_Agent* agent = create_basic_agent();
    agent->register_microenvironment(&m);
    if (!agent->assign_position(a.x, a.y, a.z)) fail("an agent lies outside the grid");
    agent->set_total_volume(a.volume);  // marks the uptake constants for recomputation
    (*agent->uptake_rates)[0] = a.uptake;
    (*agent->secretion_rates)[0] = 0.0;
    (*agent->saturation_densities)[0] = 0.0;
  }

  std::vector<double> samples;
  for (int r = 0; r < warmup + repeats; r++) {
    restore(m, initial);
    auto start = std::chrono::steady_clock::now();
    run(m, steps, dt);
    auto end = std::chrono::steady_clock::now();
    if (r >= warmup) samples.push_back(std::chrono::duration<double>(end - start).count());
  }
  if (!field_out.empty()) {
    restore(m, initial);
    run(m, steps, dt);
    write_field(field_out, m);
  }
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  std::size_t n = sorted.size();
  double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);

  std::printf("{\"steps\": %d, \"dt_min\": %.17g, \"voxels\": %u, \"shape_xyz\": [%d, %d, %d], "
              "\"dx_um\": %.17g, \"agents\": %zu, \"dirichlet_nodes\": %d, "
              "\"omp_threads\": %d, \"warmup\": %d, \"repeats\": %d, \"median_s\": %.9g, "
              "\"min_s\": %.9g, \"max_s\": %.9g, \"samples_s\": [",
              steps, dt, m.number_of_voxels(), s.nx, s.ny, s.nz, s.dx, s.agents.size(),
              dirichlet_nodes, omp_get_max_threads(), warmup, repeats, median, sorted.front(),
              sorted.back());
  for (std::size_t i = 0; i < samples.size(); i++)
    std::printf("%s%.9g", i ? ", " : "", samples[i]);
  std::printf("]}\n");
  return 0;
}
