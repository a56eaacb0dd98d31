// Per-pixel math shared by the pre- and post-processing kernels (host + device, one source of truth).
//
// Everything that decides a pixel value is integer arithmetic or explicitly rounded float
// arithmetic (the *_rn helpers: no fused multiply-add on the GPU), so the GPU build, the CPU
// emulation build and the NumPy reference (kernels/reference.py) give the same bits.
//
// Conventions used throughout
//   * Images are row-major, (x, y) = (column, row), pixel centres at integer coordinates.
//   * Plane pointers are uint8 with a row pitch in BYTES (pitch >= width * channels).
//   * Pixel formats (kFormat*): NV12 = Y plane + interleaved UV plane; I420 = Y, U, V planes;
//     chroma planes are ceil(w/2) x ceil(h/2); BGR / RGB = one packed 3-channel plane.
//   * YUV <-> RGB: BT.601 / BT.709 matrices, full range (Y, U, V in 0..255, chroma centred on 128,
//     chroma scale 255) or limited range (Y 16..235, U/V 16..240). Coefficients are Q16 integers.
//   * Affine sampling follows cv2.warpAffine(src, M, dsize, flags=INTER_LINEAR) exactly: the kernel
//     gets the inverse matrix (destination pixel -> source pixel, computed on the host the way
//     OpenCV inverts), source coordinates are quantised to 1/32 pixel with OpenCV's fixed-point
//     scheme, bilinear weights are multiples of 1/1024.
#pragma once

#ifdef REENACT_CPU_EMULATION
#include "cpu_emulation.h"
#else
#include <cuda_fp16.h>
#endif

#include <cmath>
#include <cstdint>
#include <cstdlib>

// A launch-configuration precondition: traps the kernel on the GPU, aborts the CPU emulation.
#ifdef __CUDA_ARCH__
#define REENACT_REQUIRE(cond) \
  do {                        \
    if (!(cond)) __trap();    \
  } while (0)
#else
#define REENACT_REQUIRE(cond) \
  do {                        \
    if (!(cond)) std::abort(); \
  } while (0)
#endif

namespace reenact {

// ---- enumerations (mirrored in kernels/frames.py) ---------------------------------------------
constexpr int kFormatNV12 = 0;
constexpr int kFormatI420 = 1;
constexpr int kFormatBGR = 2;
constexpr int kFormatRGB = 3;
constexpr int kMatrixBT601 = 0;
constexpr int kMatrixBT709 = 1;

// ---- exactly rounded arithmetic (no FMA contraction on the device) ----------------------------
__host__ __device__ __forceinline__ float fadd_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

__host__ __device__ __forceinline__ float fsub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

__host__ __device__ __forceinline__ float fmul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

__host__ __device__ __forceinline__ float fdiv_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

__host__ __device__ __forceinline__ double dadd_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

__host__ __device__ __forceinline__ double dmul_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

/// Round to nearest, ties to even (OpenCV's cvRound / saturate_cast<int>(double)); clamped to +-2^30.
__host__ __device__ __forceinline__ int round_even_to_int(double v) {
  v = v < -1073741824.0 ? -1073741824.0 : (v > 1073741824.0 ? 1073741824.0 : v);
#ifdef __CUDA_ARCH__
  return __double2int_rn(v);
#else
  return static_cast<int>(std::nearbyint(v));
#endif
}

__host__ __device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

__host__ __device__ __forceinline__ uint8_t clamp_u8(int v) { return static_cast<uint8_t>(clampi(v, 0, 255)); }

// ---- half precision ----------------------------------------------------------------------------
#ifdef REENACT_CPU_EMULATION
/// On the CPU build a half is its IEEE binary16 bit pattern.
using half_t = uint16_t;

/// float -> binary16, round to nearest even (same as __float2half_rn and numpy's astype(float16)).
inline uint16_t float_to_half_bits(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xffu) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));  // inf / nan
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (e <= 0) {                                                 // subnormal half (or zero)
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const unsigned shift = static_cast<unsigned>(14 - e);
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | h);
}

/// binary16 -> float (exact).
inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {  // subnormal: value = mant * 2^-24
      const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;
      __builtin_memcpy(&x, &v, 4);
      x |= sign;
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  __builtin_memcpy(&f, &x, 4);
  return f;
}

inline void store_value(half_t* p, float v) { *p = float_to_half_bits(v); }
inline float load_value(const half_t* p) { return half_bits_to_float(*p); }
#else
using half_t = __half;
__device__ __forceinline__ void store_value(half_t* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ float load_value(const half_t* p) { return __half2float(*p); }
#endif

__host__ __device__ __forceinline__ void store_value(float* p, float v) { *p = v; }
__host__ __device__ __forceinline__ float load_value(const float* p) { return *p; }

// ---- normalisation -----------------------------------------------------------------------------
// A tensor layout (kernels.frames.TensorLayout) says how 8-bit pixels map to an engine's planar
// tensor: the plane order (kFormatRGB / kFormatBGR) and value = u8 * scale + bias. The way back
// takes offset = -bias and gain = 1 / scale (computed on the host).

/// uint8 -> tensor value: v * scale + bias, each step rounded to float32.
__host__ __device__ __forceinline__ float normalize_u8(int v, float scale, float bias) {
  return fadd_rn(fmul_rn(static_cast<float>(v), scale), bias);
}

/// tensor value -> uint8: floor((x + offset) * gain + 0.5) clamped to 0..255 (round half up); NaN -> 0.
__host__ __device__ __forceinline__ int denormalize_to_u8(float x, float offset, float gain) {
  const float v = fadd_rn(fmul_rn(fadd_rn(x, offset), gain), 0.5f);
  if (!(v >= 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<int>(v);  // truncation == floor for v >= 0
}

/// The tensor plane holding colour channel k (0..2) of an image in channel order image_order.
__host__ __device__ __forceinline__ int plane_of(int k, int image_order, int tensor_order) {
  return image_order == tensor_order ? k : 2 - k;
}

// ---- colour ------------------------------------------------------------------------------------
/// YUV -> RGB in Q16: R = cy*(Y-y0) + rv*(V-128); G = cy*(Y-y0) + gu*(U-128) + gv*(V-128);
/// B = cy*(Y-y0) + bu*(U-128); each channel rounded half up ((acc + 2^15) >> 16) and clamped.
struct YuvToRgb {
  int y_offset, cy, rv, gu, gv, bu;
};

/// RGB -> YUV in Q16: Y = y0 + (yr*R + yg*G + yb*B) / 2^16, U = 128 + (ur*R + ug*G + ub*B) / 2^16,
/// V = 128 + (vr*R + vg*G + vb*B) / 2^16. Chroma rows sum to zero (grey -> 128 exactly).
struct RgbToYuv {
  int y_offset, yr, yg, yb, ur, ug, ub, vr, vg, vb;
};

// Derived (kernels/colour.py) from Kr, Kb = 0.299, 0.114 (BT.601) / 0.2126, 0.0722 (BT.709);
// full range: Y scale 255, chroma scale 255; limited: Y 16 + 219 * E_Y, chroma 128 + 224 * E_C.
// Each coefficient is round_half_up(c * 65536); green absorbs the rounding of each RGB->YUV row.
__host__ __device__ __forceinline__ YuvToRgb yuv_to_rgb_coeffs(int matrix, int full_range) {
  if (matrix == kMatrixBT709) {
    return full_range ? YuvToRgb{0, 65536, 103206, -12276, -30679, 121609}
                      : YuvToRgb{16, 76309, 117489, -13975, -34925, 138438};
  }
  return full_range ? YuvToRgb{0, 65536, 91881, -22553, -46802, 116130}
                    : YuvToRgb{16, 76309, 104597, -25675, -53279, 132201};
}

__host__ __device__ __forceinline__ RgbToYuv rgb_to_yuv_coeffs(int matrix, int full_range) {
  if (matrix == kMatrixBT709) {
    return full_range ? RgbToYuv{0, 13933, 46871, 4732, -7509, -25259, 32768, 32768, -29763, -3005}
                      : RgbToYuv{16, 11966, 40254, 4064, -6596, -22188, 28784, 28784, -26145, -2639};
  }
  return full_range ? RgbToYuv{0, 19595, 38470, 7471, -11058, -21710, 32768, 32768, -27439, -5329}
                    : RgbToYuv{16, 16829, 33039, 6416, -9714, -19070, 28784, 28784, -24103, -4681};
}

/// One YUV sample -> RGB (rgb[0] = R). Y is not clamped to the legal range before conversion.
__host__ __device__ __forceinline__ void yuv_to_rgb(const YuvToRgb& c, int y, int u, int v, int rgb[3]) {
  const int yy = c.cy * (y - c.y_offset) + (1 << 15);
  u -= 128;
  v -= 128;
  rgb[0] = clamp_u8((yy + c.rv * v) >> 16);
  rgb[1] = clamp_u8((yy + c.gu * u + c.gv * v) >> 16);
  rgb[2] = clamp_u8((yy + c.bu * u) >> 16);
}

/// Luma of one RGB pixel, rounded half up and clamped.
__host__ __device__ __forceinline__ uint8_t rgb_to_y(const RgbToYuv& c, int r, int g, int b) {
  return clamp_u8((c.yr * r + c.yg * g + c.yb * b + (c.y_offset << 16) + (1 << 15)) >> 16);
}

/// A decoded frame as seen by a kernel (read-only planes, see the format conventions above).
struct Planes {
  const uint8_t* p0;
  const uint8_t* p1;
  const uint8_t* p2;
  int pitch0, pitch1, pitch2;
  int width, height, format;
};

/// RGB of pixel (x, y) (must be inside the frame), for any input format; chroma of a 4:2:0 frame is
/// taken from the chroma sample covering the pixel (x/2, y/2), like cv2.cvtColor.
__host__ __device__ __forceinline__ void fetch_rgb(const Planes& f, const YuvToRgb& c, int x, int y, int rgb[3]) {
  if (f.format == kFormatBGR || f.format == kFormatRGB) {
    const uint8_t* p = f.p0 + static_cast<long long>(y) * f.pitch0 + 3 * x;
    const int swap = f.format == kFormatBGR ? 2 : 0;
    rgb[0] = p[swap];
    rgb[1] = p[1];
    rgb[2] = p[2 - swap];
    return;
  }
  const int luma = f.p0[static_cast<long long>(y) * f.pitch0 + x];
  int u, v;
  if (f.format == kFormatNV12) {
    const uint8_t* uv = f.p1 + static_cast<long long>(y >> 1) * f.pitch1 + 2 * (x >> 1);
    u = uv[0];
    v = uv[1];
  } else {
    u = f.p1[static_cast<long long>(y >> 1) * f.pitch1 + (x >> 1)];
    v = f.p2[static_cast<long long>(y >> 1) * f.pitch2 + (x >> 1)];
  }
  yuv_to_rgb(c, luma, u, v, rgb);
}

// ---- affine sampling (cv2.warpAffine, INTER_LINEAR) --------------------------------------------
/// Inverse affine (destination -> source), row-major m = [a, b, c; d, e, f].
struct Affine {
  double m[6];
};

/// Source position of destination pixel (x, y) on OpenCV's 1/32 grid: integer part (ix, iy) and
/// fraction in 1/32 (fx, fy). Reproduces OpenCV's WarpAffineInvoker: per-row terms
/// round((b*y + c) * 1024), per-column terms round(a*x * 1024), sum + 16, >> 5.
__host__ __device__ __forceinline__ void source_position(const Affine& a, int x, int y, int* ix, int* iy, int* fx,
                                                         int* fy) {
  const double xd = static_cast<double>(x);
  const double yd = static_cast<double>(y);
  const int row_x = round_even_to_int(dmul_rn(dadd_rn(dmul_rn(a.m[1], yd), a.m[2]), 1024.0)) + 16;
  const int row_y = round_even_to_int(dmul_rn(dadd_rn(dmul_rn(a.m[4], yd), a.m[5]), 1024.0)) + 16;
  const int col_x = round_even_to_int(dmul_rn(dmul_rn(a.m[0], xd), 1024.0));
  const int col_y = round_even_to_int(dmul_rn(dmul_rn(a.m[3], xd), 1024.0));
  const int sx = (row_x + col_x) >> 5;  // arithmetic shifts: floor for negatives, as in OpenCV
  const int sy = (row_y + col_y) >> 5;
  *ix = sx >> 5;
  *iy = sy >> 5;
  *fx = sx & 31;
  *fy = sy & 31;
}

/// Integer bilinear blend of four 8-bit taps with 1/32 fractions, rounded half up (exactly what
/// OpenCV's fixed-point INTER_LINEAR gives for 8-bit images).
__host__ __device__ __forceinline__ int bilinear_u8(int v00, int v01, int v10, int v11, int fx, int fy) {
  const int w00 = (32 - fx) * (32 - fy);
  const int w01 = fx * (32 - fy);
  const int w10 = (32 - fx) * fy;
  const int w11 = fx * fy;
  return (v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11 + 512) >> 10;
}

/// Float bilinear of a single-channel float image with a zero border (BORDER_CONSTANT, value 0), in
/// OpenCV's order: ((v00*w00 + v01*w01) + v10*w10) + v11*w11 with float weights (1-a)(1-b) etc.
__host__ __device__ __forceinline__ float bilinear_f32_zero(const float* img, int width, int height, int ix, int iy,
                                                            int fx, int fy) {
  const float ax = static_cast<float>(fx) * (1.0f / 32.0f);
  const float ay = static_cast<float>(fy) * (1.0f / 32.0f);
  const float wx[2] = {1.0f - ax, ax};
  const float wy[2] = {1.0f - ay, ay};
  float acc = 0.0f;
  bool first = true;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const int xx = ix + dx;
      const int yy = iy + dy;
      const float v = (xx >= 0 && xx < width && yy >= 0 && yy < height) ? img[yy * width + xx] : 0.0f;
      const float term = fmul_rn(v, fmul_rn(wy[dy], wx[dx]));
      acc = first ? term : fadd_rn(acc, term);
      first = false;
    }
  }
  return acc;
}

/// Frame RGB at a source position with edge replication (BORDER_REPLICATE), one uint8 per channel.
__host__ __device__ __forceinline__ void sample_rgb_replicate(const Planes& f, const YuvToRgb& c, int ix, int iy,
                                                              int fx, int fy, int rgb[3]) {
  const int x0 = clampi(ix, 0, f.width - 1);
  const int x1 = clampi(ix + 1, 0, f.width - 1);
  const int y0 = clampi(iy, 0, f.height - 1);
  const int y1 = clampi(iy + 1, 0, f.height - 1);
  int p00[3], p01[3], p10[3], p11[3];
  fetch_rgb(f, c, x0, y0, p00);
  fetch_rgb(f, c, x1, y0, p01);
  fetch_rgb(f, c, x0, y1, p10);
  fetch_rgb(f, c, x1, y1, p11);
  for (int k = 0; k < 3; ++k) rgb[k] = bilinear_u8(p00[k], p01[k], p10[k], p11[k], fx, fy);
}

}  // namespace reenact
