// C entry points of the CPU-emulated kernel library (built only with -DREENACT_CPU_EMULATION).
//
// reenact_cpu_launch(name, grid, block, params) mirrors cuLaunchKernel: params[i] points at the i-th
// kernel argument. Signatures are deduced from the declarations in kernels.cuh, so every kernel is
// listed once below; reenact_cpu_signature(name) returns its argument codes ('d' double, 'i' int, 'f' float,
// 'P' pointer), which the Python side checks against its own launch specs before the first call.
#ifndef REENACT_CPU_EMULATION
#error "cpu_api.cpp is the CPU emulation entry point; build it with -DREENACT_CPU_EMULATION"
#endif

#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels.cuh"


namespace {

template <class T>
constexpr char code() {
  if constexpr (std::is_pointer_v<T>) return 'P';
  else if constexpr (std::is_same_v<T, double>) return 'd';
  else if constexpr (std::is_same_v<T, float>) return 'f';
  else if constexpr (std::is_same_v<T, int>) return 'i';
  else return '?';
}

template <class... A>
const char* signature_of(void (*)(A...)) {
  static const char text[] = {code<A>()..., '\0'};
  return text;
}

template <class... A, std::size_t... I>
void call(void (*kernel)(A...), void** params, std::index_sequence<I...>) {
  kernel(*static_cast<A*>(params[I])...);
}

template <class... A>
void run(void (*kernel)(A...), dim3 grid, dim3 block, void** params, bool sync) {
  auto body = [&] { call(kernel, params, std::index_sequence_for<A...>{}); };
  if (sync) {
    reenact_emu::launch_sync(grid, block, body);
  } else {
    reenact_emu::launch(grid, block, body);
  }
}

struct Entry {
  const char* name;
  const char* signature;
  void (*launch)(dim3, dim3, void**);
};

#define REENACT_ENTRY(kernel, sync) \
  Entry { #kernel, signature_of(kernel), [](dim3 g, dim3 b, void** p) { run(kernel, g, b, p, sync); } }

const Entry* find(const char* name) {
  static const Entry entries[] = {
      REENACT_ENTRY(reenact_preprocess_f32, false), REENACT_ENTRY(reenact_preprocess_f16, false),
      REENACT_ENTRY(reenact_to_packed, false),      REENACT_ENTRY(reenact_denormalize_f32, false),
      REENACT_ENTRY(reenact_denormalize_f16, false), REENACT_ENTRY(reenact_seam_stats_f32, true),
      REENACT_ENTRY(reenact_seam_stats_f16, true),  REENACT_ENTRY(reenact_paste_f32, false),
      REENACT_ENTRY(reenact_paste_f16, false),      REENACT_ENTRY(reenact_to_yuv420, false),
      REENACT_ENTRY(reenact_raster_depth, false),   REENACT_ENTRY(reenact_raster_resolve, false),
  };
  for (const Entry& e : entries) {
    if (std::strcmp(e.name, name) == 0) return &e;
  }
  return nullptr;
}

}  // namespace

extern "C" {

/// Argument codes of a kernel, or null if there is no kernel of that name.
const char* reenact_cpu_signature(const char* name) {
  const Entry* e = find(name);
  return e ? e->signature : nullptr;
}

/// Runs a kernel over the grid on the calling thread; 0 on success, -1 for an unknown kernel.
int reenact_cpu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, void** params) {
  const Entry* e = find(name);
  if (e == nullptr) return -1;
  e->launch(dim3(gx, gy, gz), dim3(bx, by, bz), params);
  return 0;
}

/// The Q16 colour coefficients the kernels use: 6 ints YUV->RGB then 10 ints RGB->YUV.
void reenact_cpu_colour_coefficients(int matrix, int full_range, int* out) {
  const reenact::YuvToRgb a = reenact::yuv_to_rgb_coeffs(matrix, full_range);
  const reenact::RgbToYuv b = reenact::rgb_to_yuv_coeffs(matrix, full_range);
  const int values[16] = {a.y_offset, a.cy, a.rv, a.gu, a.gv, a.bu, b.y_offset, b.yr, b.yg,
                          b.yb,       b.ur, b.ug, b.ub, b.vr, b.vg, b.vb};
  std::memcpy(out, values, sizeof(values));
}

/// float -> IEEE half bits with the kernels' rounding (for tests).
unsigned short reenact_cpu_float_to_half(float v) { return reenact::float_to_half_bits(v); }

}  // extern "C"
