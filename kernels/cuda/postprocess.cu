// Post-processing: generator output (planar NCHW, any TensorLayout) -> uint8 -> feathered paste-back into
// the full BGR frame (with optional seam colour matching) -> NV12 / I420 for the encoder.
//
// The paste reproduces streamer/compositor.py (Compositor.paste with its feather_mask) bit for bit;
// the seam colour offset uses cv2.mean's arithmetic (exact integer sums times 1 / count).
#include "kernels.cuh"

namespace reenact {

constexpr int kStatsThreads = 256;  // seam-statistics block size (a power of two)

/// Where a crop lands: m maps a pixel of the paste region (frame pixel minus (x0, y0)) to crop
/// coordinates; OpenCV's inverse of the region-local crop->frame matrix (kernels.host.paste_region).
struct PasteGeometry {
  Affine m;
  int x0, y0, width, height;  // paste region (the crop's footprint clipped to the frame)
};

/// How the crop tensor's values become uint8: plane order and the inverse of its normalisation.
struct CropLayout {
  int order;  // kFormatRGB / kFormatBGR: the colour of each plane
  float offset, gain;  // u8 = floor((x + offset) * gain + 0.5)
};

/// Crop channel (frame channel order) at crop pixel (x, y) (inside), de-normalised to uint8.
template <typename InT>
__device__ __forceinline__ void crop_texel(const InT* crop, const CropLayout& layout, int size, int x, int y,
                                           int frame_format, int px[3]) {
  const long long plane = static_cast<long long>(size) * size;
  const long long at = static_cast<long long>(y) * size + x;
  for (int k = 0; k < 3; ++k) {
    const int src = plane_of(k, frame_format, layout.order);
    px[k] = denormalize_to_u8(load_value(crop + src * plane + at), layout.offset, layout.gain);
  }
}

/// Mask weight and warped crop colour (uint8, frame channel order) of region pixel (lx, ly):
/// cv2.warpAffine of the mask (float, zero border) and of the uint8 crop (replicate border).
/// Returns false (and skips the crop) when keep(alpha) says the pixel is not needed.
template <typename InT, typename Keep>
__device__ __forceinline__ bool paste_sample(const PasteGeometry& g, const InT* crop, const CropLayout& layout,
                                             int size, const float* mask, int frame_format, int lx, int ly,
                                             Keep keep, float* alpha, int px[3]) {
  int ix, iy, fx, fy;
  source_position(g.m, lx, ly, &ix, &iy, &fx, &fy);
  *alpha = bilinear_f32_zero(mask, size, size, ix, iy, fx, fy);
  if (!keep(*alpha)) return false;
  const int x0 = clampi(ix, 0, size - 1);
  const int x1 = clampi(ix + 1, 0, size - 1);
  const int y0 = clampi(iy, 0, size - 1);
  const int y1 = clampi(iy + 1, 0, size - 1);
  int p00[3], p01[3], p10[3], p11[3];
  crop_texel(crop, layout, size, x0, y0, frame_format, p00);
  crop_texel(crop, layout, size, x1, y0, frame_format, p01);
  crop_texel(crop, layout, size, x0, y1, frame_format, p10);
  crop_texel(crop, layout, size, x1, y1, frame_format, p11);
  for (int k = 0; k < 3; ++k) px[k] = bilinear_u8(p00[k], p01[k], p10[k], p11[k], fx, fy);
  return true;
}

struct InSeamBand {
  __host__ __device__ bool operator()(float a) const { return a > 0.05f && a < 0.95f; }
};

struct NonZero {
  __host__ __device__ bool operator()(float a) const { return a != 0.0f; }
};

template <typename InT>
__device__ __forceinline__ void denormalize_body(const InT* in, int width, int height, uint8_t* out, int out_pitch,
                                                 int out_format, const CropLayout& layout) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x >= width || y >= height) return;
  const long long plane = static_cast<long long>(width) * height;
  const long long at = static_cast<long long>(y) * width + x;
  uint8_t* o = out + static_cast<long long>(y) * out_pitch + 3 * x;
  for (int k = 0; k < 3; ++k) {
    const int src = plane_of(k, out_format, layout.order);
    o[k] = static_cast<uint8_t>(denormalize_to_u8(load_value(in + src * plane + at), layout.offset, layout.gain));
  }
}

constexpr int kStatsSlots = 7;  // sum of frame B,G,R (frame order), sum of warped crop (same order), count

template <typename InT>
__device__ __forceinline__ void seam_stats_body(const PasteGeometry& g, const InT* crop, const CropLayout& layout,
                                                int size, const float* mask, const uint8_t* frame, int frame_pitch,
                                                int frame_format, unsigned long long* stats) {
  REENACT_REQUIRE(blockDim.x == kStatsThreads && blockDim.y == 1 && blockDim.z == 1);
  __shared__ long long partial[kStatsSlots][kStatsThreads];
  const int tid = static_cast<int>(threadIdx.x);
  long long acc[kStatsSlots] = {0, 0, 0, 0, 0, 0, 0};
  const long long n = static_cast<long long>(g.width) * g.height;
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + tid; i < n; i += step) {
    const int lx = static_cast<int>(i % g.width);
    const int ly = static_cast<int>(i / g.width);
    float alpha;
    int px[3];
    if (!paste_sample(g, crop, layout, size, mask, frame_format, lx, ly, InSeamBand(), &alpha, px)) continue;
    const uint8_t* f = frame + static_cast<long long>(g.y0 + ly) * frame_pitch + 3 * (g.x0 + lx);
    for (int k = 0; k < 3; ++k) {
      acc[k] += f[k];
      acc[3 + k] += px[k];
    }
    acc[6] += 1;
  }
  for (int k = 0; k < kStatsSlots; ++k) partial[k][tid] = acc[k];
  __syncthreads();
  for (int s = kStatsThreads / 2; s > 0; s >>= 1) {
    if (tid < s) {
      for (int k = 0; k < kStatsSlots; ++k) partial[k][tid] += partial[k][tid + s];
    }
    __syncthreads();
  }
  if (tid == 0) {
    for (int k = 0; k < kStatsSlots; ++k) atomicAdd(stats + k, static_cast<unsigned long long>(partial[k][0]));
  }
}

/// Seam colour offset (frame order) from the statistics: round(mean(frame) - mean(crop)) over the
/// band, each mean = sum * (1 / count) in double (cv2.mean), rounded to an integer half to even (as
/// cv2.add(uint8, scalar) rounds its scalar). False (no correction) when stats is null or the band
/// has fewer than 16 pixels.
__device__ __forceinline__ bool seam_offset(const unsigned long long* stats, int offset[3]) {
  if (stats == nullptr) return false;
  const long long count = static_cast<long long>(stats[6]);
  if (count < 16) return false;
  const double scale = 1.0 / static_cast<double>(count);
  for (int k = 0; k < 3; ++k) {
    const double frame_mean = dmul_rn(static_cast<double>(static_cast<long long>(stats[k])), scale);
    const double crop_mean = dmul_rn(static_cast<double>(static_cast<long long>(stats[3 + k])), scale);
    offset[k] = round_even_to_int(frame_mean - crop_mean);
  }
  return true;
}

/// cv2.blendLinear(crop, frame, alpha, 1 - alpha) for one 8-bit channel:
/// round_half_even((c * a + f * b) / ((a + b) + 1e-5)), float32 steps in that order, saturated.
__host__ __device__ __forceinline__ int blend_linear_u8(int c, int f, float a, float b) {
  const float num = fadd_rn(fmul_rn(static_cast<float>(c), a), fmul_rn(static_cast<float>(f), b));
  const float q = fdiv_rn(num, fadd_rn(fadd_rn(a, b), 1e-5f));
  return clampi(round_even_to_int(static_cast<double>(q)), 0, 255);
}

template <typename InT>
__device__ __forceinline__ void paste_body(const PasteGeometry& g, const InT* crop, const CropLayout& layout, int size,
                                           const float* mask, uint8_t* frame, int frame_pitch, int frame_format,
                                           const unsigned long long* stats) {
  const int lx = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int ly = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (lx >= g.width || ly >= g.height) return;
  float alpha;
  int px[3];
  // alpha == 0 leaves the pixel as it is (f / (1 + 1e-5) rounds back to f), so skip it.
  if (!paste_sample(g, crop, layout, size, mask, frame_format, lx, ly, NonZero(), &alpha, px)) return;
  int offset[3] = {0, 0, 0};
  seam_offset(stats, offset);
  const float beta = fsub_rn(1.0f, alpha);
  uint8_t* f = frame + static_cast<long long>(g.y0 + ly) * frame_pitch + 3 * (g.x0 + lx);
  for (int k = 0; k < 3; ++k) {
    const int c = clampi(px[k] + offset[k], 0, 255);  // cv2.add(warped, offset, dtype=CV_8U)
    f[k] = static_cast<uint8_t>(blend_linear_u8(c, f[k], alpha, beta));
  }
}

}  // namespace reenact

using reenact::Affine;
using reenact::half_t;
using reenact::CropLayout;
using reenact::PasteGeometry;

/// reenact_denormalize_f32 / _f16: planar NCHW tensor (N = 1) -> packed uint8 image.
///
/// Convention: one thread per pixel; in is 3 x height x width with planes in tensor_order
/// (kFormatRGB / kFormatBGR); out is height x width x 3 with byte pitch out_pitch in channel order
/// out_format (kFormatBGR / kFormatRGB); u8 = clamp(floor((x + offset) * gain + 0.5), 0, 255) in
/// float32 steps (round half up, NaN -> 0); offset 1, gain 127.5 undo a [-1, 1] normalisation.
extern "C" __global__ void reenact_denormalize_f32(const float* in, uint8_t* out, int width, int height,
                                                   int out_pitch, int out_format, int tensor_order, float offset,
                                                   float gain) {
  reenact::denormalize_body(in, width, height, out, out_pitch, out_format, CropLayout{tensor_order, offset, gain});
}

extern "C" __global__ void reenact_denormalize_f16(const half_t* in, uint8_t* out, int width, int height,
                                                   int out_pitch, int out_format, int tensor_order, float offset,
                                                   float gain) {
  reenact::denormalize_body(in, width, height, out, out_pitch, out_format, CropLayout{tensor_order, offset, gain});
}

/// reenact_seam_stats_f32 / _f16: sums for the seam colour offset of Compositor.paste.
///
/// Convention: m0..m5 map a paste-region pixel (frame x - x0, y - y0) to crop pixel coordinates
/// (kernels.host.paste_region(...).inverse); region = [x0, x0 + width) x [y0, y0 + height) of the
/// frame. Over region pixels whose mask weight alpha satisfies 0.05 < alpha < 0.95 (the feather
/// band) it adds, per frame channel, the frame value to stats[0..2] and the warped crop value
/// (uint8, as in reenact_paste_*) to stats[3..5], and 1 to stats[6] (int64 in unsigned slots).
/// stats (7 values) must be zeroed first. crop: planar NCHW, size x size, planes in tensor_order,
/// values turned to uint8 as in reenact_denormalize_* (offset, gain); mask: size x size float32
/// (feather_mask); frame: packed uint8, byte pitch, frame_format kFormatBGR / RGB.
/// Launch: 1D, blockDim.x == 256 (kStatsThreads), any grid (grid-stride loop); uses shared memory
/// and __syncthreads().
extern "C" __global__ void reenact_seam_stats_f32(double m0, double m1, double m2, double m3, double m4, double m5,
                                                  const float* crop, const float* mask, const uint8_t* frame,
                                                  unsigned long long* stats, int size, int frame_pitch,
                                                  int frame_format, int x0, int y0, int width, int height,
                                                  int tensor_order, float offset, float gain) {
  const PasteGeometry g{{{m0, m1, m2, m3, m4, m5}}, x0, y0, width, height};
  const CropLayout layout{tensor_order, offset, gain};
  reenact::seam_stats_body(g, crop, layout, size, mask, frame, frame_pitch, frame_format, stats);
}

extern "C" __global__ void reenact_seam_stats_f16(double m0, double m1, double m2, double m3, double m4, double m5,
                                                  const half_t* crop, const float* mask, const uint8_t* frame,
                                                  unsigned long long* stats, int size, int frame_pitch,
                                                  int frame_format, int x0, int y0, int width, int height,
                                                  int tensor_order, float offset, float gain) {
  const PasteGeometry g{{{m0, m1, m2, m3, m4, m5}}, x0, y0, width, height};
  const CropLayout layout{tensor_order, offset, gain};
  reenact::seam_stats_body(g, crop, layout, size, mask, frame, frame_pitch, frame_format, stats);
}

/// reenact_paste_f32 / _f16: feathered paste-back of the generated crop into the frame, in place.
///
/// Convention: geometry, crop, mask and frame as for reenact_seam_stats_*; one thread per region
/// pixel (2D grid over width x height). For each region pixel: a = mask sampled bilinearly (zero
/// outside the crop), c = crop sampled bilinearly (edge replicated) and rounded to uint8, both at
/// crop coordinates M @ (x, y, 1) on OpenCV's 1/32 grid. With stats (may be null; used when the band
/// has >= 16 pixels): c = clamp(c + round(mean(frame) - mean(crop))) over the band. Then
/// out = round_half_even((c * a + f * (1 - a)) / (1 + 1e-5)) in float32 (cv2.blendLinear).
/// Pixels outside the region, or with a == 0 (unchanged by the blend), are not touched.
extern "C" __global__ void reenact_paste_f32(double m0, double m1, double m2, double m3, double m4, double m5,
                                             const float* crop, const float* mask, uint8_t* frame,
                                             const unsigned long long* stats, int size, int frame_pitch,
                                             int frame_format, int x0, int y0, int width, int height,
                                             int tensor_order, float offset, float gain) {
  const PasteGeometry g{{{m0, m1, m2, m3, m4, m5}}, x0, y0, width, height};
  const CropLayout layout{tensor_order, offset, gain};
  reenact::paste_body(g, crop, layout, size, mask, frame, frame_pitch, frame_format, stats);
}

extern "C" __global__ void reenact_paste_f16(double m0, double m1, double m2, double m3, double m4, double m5,
                                             const half_t* crop, const float* mask, uint8_t* frame,
                                             const unsigned long long* stats, int size, int frame_pitch,
                                             int frame_format, int x0, int y0, int width, int height,
                                             int tensor_order, float offset, float gain) {
  const PasteGeometry g{{{m0, m1, m2, m3, m4, m5}}, x0, y0, width, height};
  const CropLayout layout{tensor_order, offset, gain};
  reenact::paste_body(g, crop, layout, size, mask, frame, frame_pitch, frame_format, stats);
}

/// reenact_to_yuv420: packed 8-bit BGR / RGB -> NV12 or I420 (encoder input).
///
/// Convention: one thread per 2x2 block (grid over ceil(width/2) x ceil(height/2)); in has byte
/// pitch in_pitch, channel order in_format (kFormatBGR / kFormatRGB); out_format kFormatNV12 (p1 =
/// interleaved UV) or kFormatI420 (p1 = U, p2 = V), each plane with its byte pitch.
/// Y = clamp(floor(y0 + (yr R + yg G + yb B) / 2^16 + 0.5)) per pixel; U, V of a 2x2 block = the mean
/// of the four pixels' (unrounded, Q16) chroma, rounded half up and clamped to 0..255. At an odd
/// right / bottom edge the last column / row is replicated (= the mean of the pixels that exist).
extern "C" __global__ void reenact_to_yuv420(const uint8_t* in, uint8_t* p0, uint8_t* p1, uint8_t* p2, int in_pitch,
                                             int in_format, int width, int height, int out_format, int pitch0,
                                             int pitch1, int pitch2, int matrix, int full_range) {
  const int bx = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int by = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (bx >= (width + 1) / 2 || by >= (height + 1) / 2) return;
  const reenact::RgbToYuv c = reenact::rgb_to_yuv_coeffs(matrix, full_range);
  const int swap = in_format == reenact::kFormatBGR ? 2 : 0;
  int su = 0, sv = 0;
  for (int dy = 0; dy < 2; ++dy) {
    for (int dx = 0; dx < 2; ++dx) {
      const int x = 2 * bx + dx;
      const int y = 2 * by + dy;
      const int xs = x < width ? x : width - 1;
      const int ys = y < height ? y : height - 1;
      const uint8_t* px = in + static_cast<long long>(ys) * in_pitch + 3 * xs;
      const int r = px[swap], g = px[1], b = px[2 - swap];
      if (x < width && y < height) p0[static_cast<long long>(y) * pitch0 + x] = reenact::rgb_to_y(c, r, g, b);
      su += c.ur * r + c.ug * g + c.ub * b;
      sv += c.vr * r + c.vg * g + c.vb * b;
    }
  }
  const uint8_t u = reenact::clamp_u8((su + (128 << 18) + (1 << 17)) >> 18);
  const uint8_t v = reenact::clamp_u8((sv + (128 << 18) + (1 << 17)) >> 18);
  if (out_format == reenact::kFormatNV12) {
    uint8_t* uv = p1 + static_cast<long long>(by) * pitch1 + 2 * bx;
    uv[0] = u;
    uv[1] = v;
  } else {
    p1[static_cast<long long>(by) * pitch1 + bx] = u;
    p2[static_cast<long long>(by) * pitch2 + bx] = v;
  }
}
