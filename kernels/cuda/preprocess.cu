// Pre-processing: decoded frame -> RGB -> aligned crop -> normalised planar NCHW (engine input).
//
// Launch: 2D grid over output pixels, one thread per pixel (the host uses 32 x 8 blocks).
#include "kernels.cuh"

namespace reenact {

/// Kernel body shared by the float32 / float16 entry points.
template <typename OutT>
__device__ __forceinline__ void preprocess_body(const Affine& inv, const Planes& frame, const YuvToRgb& coeffs,
                                                OutT* out, int size, int tensor_order, float scale,
                                                float bias) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x >= size || y >= size) return;
  int ix, iy, fx, fy;
  source_position(inv, x, y, &ix, &iy, &fx, &fy);
  int rgb[3];
  sample_rgb_replicate(frame, coeffs, ix, iy, fx, fy, rgb);
  const long long plane = static_cast<long long>(size) * size;
  const long long at = static_cast<long long>(y) * size + x;
  for (int k = 0; k < 3; ++k) {
    store_value(out + plane_of(k, kFormatRGB, tensor_order) * plane + at, normalize_u8(rgb[k], scale, bias));
  }
}

}  // namespace reenact

using reenact::Affine;
using reenact::half_t;
using reenact::Planes;

/// reenact_preprocess_f32 / _f16: aligned, normalised face crop straight into the engine's input.
///
/// Convention
///   * inv = m0..m5: the INVERSE of the 2x3 alignment M (M maps full-image pixels to crop pixels),
///     i.e. crop pixel (x, y) samples the frame at inv @ (x, y, 1); computed on the host exactly as
///     cv2.warpAffine inverts M (kernels.host.warp_inverse). Pixel centres at integers.
///   * frame: planes p0/p1/p2 with byte pitches, width x height, format kFormat* (NV12, I420, BGR,
///     RGB uint8); YUV is converted with (matrix, full_range) at each bilinear tap and rounded to uint8
///     (cv2.cvtColor first, then warp), outside the frame the edge pixel is replicated.
///   * out: planar NCHW, N = 1 (offset the pointer for a batch slot), C = 3 planes in tensor_order
///     (kFormatRGB / kFormatBGR), size x size, value = u8 * scale + bias in float32 steps (e.g. scale
///     2/255, bias -1 for [-1, 1]; 1 and 0 for 0..255); u8 is the bilinear sample rounded like
///     OpenCV's 8-bit warpAffine. float32, or IEEE half (round to nearest even) for _f16.
/// Equivalent to: normalize(cv2.warpAffine(cv2.cvtColor(frame, ...RGB), M, (size, size),
///     flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), layout) transposed to CHW.
extern "C" __global__ void reenact_preprocess_f32(double m0, double m1, double m2, double m3, double m4, double m5,
                                                  const uint8_t* p0, const uint8_t* p1, const uint8_t* p2,
                                                  float* out, int pitch0, int pitch1, int pitch2, int width,
                                                  int height, int format, int matrix, int full_range, int size,
                                                  int tensor_order, float scale, float bias) {
  const Affine inv{{m0, m1, m2, m3, m4, m5}};
  const Planes frame{p0, p1, p2, pitch0, pitch1, pitch2, width, height, format};
  reenact::preprocess_body(inv, frame, reenact::yuv_to_rgb_coeffs(matrix, full_range), out, size, tensor_order,
                           scale, bias);
}

extern "C" __global__ void reenact_preprocess_f16(double m0, double m1, double m2, double m3, double m4, double m5,
                                                  const uint8_t* p0, const uint8_t* p1, const uint8_t* p2,
                                                  half_t* out, int pitch0, int pitch1, int pitch2, int width,
                                                  int height, int format, int matrix, int full_range, int size,
                                                  int tensor_order, float scale, float bias) {
  const Affine inv{{m0, m1, m2, m3, m4, m5}};
  const Planes frame{p0, p1, p2, pitch0, pitch1, pitch2, width, height, format};
  reenact::preprocess_body(inv, frame, reenact::yuv_to_rgb_coeffs(matrix, full_range), out, size, tensor_order,
                           scale, bias);
}

/// reenact_to_packed: a whole frame (NV12 / I420 / BGR / RGB) to packed 8-bit BGR or RGB.
///
/// Convention: one thread per pixel; out has width x height pixels, 3 bytes each, byte pitch
/// out_pitch, channel order out_format (kFormatBGR or kFormatRGB). YUV -> RGB per pixel with the
/// chroma sample of its 2x2 block (cv2.cvtColor(..., COLOR_YUV2BGR_NV12 / _I420) for BT.601 limited).
/// Used to get the BGR frame that paste-back composites into.
extern "C" __global__ void reenact_to_packed(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, uint8_t* out,
                                             int pitch0, int pitch1, int pitch2, int width, int height, int format,
                                             int matrix, int full_range, int out_pitch, int out_format) {
  const int x = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const int y = static_cast<int>(blockIdx.y * blockDim.y + threadIdx.y);
  if (x >= width || y >= height) return;
  const Planes frame{p0, p1, p2, pitch0, pitch1, pitch2, width, height, format};
  int rgb[3];
  reenact::fetch_rgb(frame, reenact::yuv_to_rgb_coeffs(matrix, full_range), x, y, rgb);
  uint8_t* o = out + static_cast<long long>(y) * out_pitch + 3 * x;
  const int swap = out_format == reenact::kFormatBGR ? 2 : 0;
  o[swap] = static_cast<uint8_t>(rgb[0]);
  o[1] = static_cast<uint8_t>(rgb[1]);
  o[2 - swap] = static_cast<uint8_t>(rgb[2]);
}
