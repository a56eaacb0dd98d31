// Z-buffered triangle-mesh rasteriser: a dense backward warp map from a posed mesh (issue #14 item 1).
//
// Convention
//   * Pixel centres at integers; images row-major (x = column, y = row), y pointing down.
//   * Vertices are float32 (V, 3) arrays (x, y, z): x, y in pixels of their view, z = depth, LARGER
//     = FARTHER from the camera (any unit; the source-visibility tolerance is in the same unit).
//   * Triangles are int32 (T, 3) vertex indices (the host checks they are in range).
//   * Winding: a triangle is front-facing in a view iff
//         area2 = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0) > 0,
//     i.e. its vertices run CLOCKWISE on screen (y down); area2 <= 0 (back-facing or degenerate) is
//     culled. The same test decides front-facing in the source view (on the source x, y).
//   * Coverage: pixel p is inside a front-facing triangle iff its three edge functions
//         w0 = E(v1, v2, p), w1 = E(v2, v0, p), w2 = E(v0, v1, p),  E(a, b, p) = (b.x - a.x) * (p.y - a.y)
//                                                                     - (b.y - a.y) * (p.x - a.x)
//     are all >= 0 (edges and vertices included: a pixel on a shared edge is covered by both
//     triangles, and the depth test below picks one). Barycentrics are w_i / ((w0 + w1) + w2).
//   * Depth test: the key of a sample is (orderable bits of its float32 depth) << 32 | triangle id,
//     kept with a 64-bit atomicMin: the NEAREST surface wins, ties go to the lower triangle id, so
//     the result does not depend on the order threads run in.
//   * Every float step is explicitly rounded (fadd_rn ..., no FMA contraction), in the order written,
//     so the GPU, the CPU emulation and the NumPy reference (kernels/rasterize_reference.py) agree
//     bit for bit.
//
// Launches (kernels/host.py builds them)
//   1. the z-buffers (width * height uint64) are filled with 0xFF bytes (kRasterEmpty) by the host;
//   2. reenact_raster_depth over the TARGET mesh into the target z-buffer, and (for the revealed
//      mask's occlusion test, optional) over the SOURCE mesh into a source-sized z-buffer:
//      per triangle, a loop over the pixels of its clipped bounding box;
//   3. reenact_raster_resolve: per output pixel, from the winning triangle's barycentrics
//      it writes map_x, map_y (the source position; kRasterUncovered = -1 where nothing covers the
//      pixel), mask (1 covered, 0 not) and revealed (1 where the source point is NOT visible in the
//      source view: the triangle is back-facing there, the point lies outside the source image, or
//      the triangle that won the source z-buffer at the point's nearest source pixel is another one
//      whose plane, evaluated at the exact source point, is nearer than depth - tolerance).
//      Without a source z-buffer only the back-facing test applies.
//   Both kernels are 1D grid-stride loops (any grid works; see the note above them).
#include "kernels.cuh"

namespace reenact {

constexpr unsigned long long kRasterEmpty = ~0ULL;  // an untouched z-buffer entry (host fills 0xFF bytes)
constexpr float kRasterUncovered = -1.0f;  // map value of a pixel no triangle covers

struct Vertex3 {
  float x, y, z;
};

__host__ __device__ __forceinline__ Vertex3 load_vertex(const float* verts, int index) {
  const float* v = verts + 3LL * index;
  return Vertex3{v[0], v[1], v[2]};
}

/// Edge function E(a, b, p): > 0 when p is on the inner side of a -> b for a clockwise (on screen) triangle.
__host__ __device__ __forceinline__ float edge_function(float ax, float ay, float bx, float by, float px,
                                                        float py) {
  return fsub_rn(fmul_rn(fsub_rn(bx, ax), fsub_rn(py, ay)), fmul_rn(fsub_rn(by, ay), fsub_rn(px, ax)));
}

/// Twice the signed area of a triangle (> 0: front-facing).
__host__ __device__ __forceinline__ float signed_area2(const Vertex3& a, const Vertex3& b, const Vertex3& c) {
  return edge_function(a.x, a.y, b.x, b.y, c.x, c.y);
}

/// The three edge functions of pixel (px, py); true when all are >= 0 (the pixel is covered).
__host__ __device__ __forceinline__ bool edge_weights(const Vertex3& a, const Vertex3& b, const Vertex3& c,
                                                      float px, float py, float w[3]) {
  w[0] = edge_function(b.x, b.y, c.x, c.y, px, py);
  w[1] = edge_function(c.x, c.y, a.x, a.y, px, py);
  w[2] = edge_function(a.x, a.y, b.x, b.y, px, py);
  return w[0] >= 0.0f && w[1] >= 0.0f && w[2] >= 0.0f;
}

/// ((w0 * a0 + w1 * a1) + w2 * a2) / ((w0 + w1) + w2): a vertex attribute at the pixel.
__host__ __device__ __forceinline__ float interpolate(const float w[3], float a0, float a1, float a2) {
  const float sum = fadd_rn(fadd_rn(w[0], w[1]), w[2]);
  const float num = fadd_rn(fadd_rn(fmul_rn(w[0], a0), fmul_rn(w[1], a1)), fmul_rn(w[2], a2));
  return fdiv_rn(num, sum);
}

__host__ __device__ __forceinline__ uint32_t float_bits(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  return x;
}

/// float32 -> uint32 with the same order (negative depths included; NaN never reaches here).
__host__ __device__ __forceinline__ uint32_t orderable_depth(float depth) {
  const uint32_t bits = float_bits(depth);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

/// First and last pixel index in [0, size) of the span [lo, hi] (first > last when none).
__host__ __device__ __forceinline__ void pixel_span(float lo, float hi, int size, int* first, int* last) {
  lo = fmaxf(lo, -1.0f);  // clamp before converting: vertices far off screen stay in int range
  hi = fminf(hi, static_cast<float>(size));
  *first = clampi(static_cast<int>(ceilf(lo)), 0, size);
  *last = clampi(static_cast<int>(floorf(hi)), -1, size - 1);
}

/// Depth pass of one triangle: atomicMin of its keys over the covered pixels of its bounding box.
__device__ __forceinline__ void draw_triangle(const float* verts, const int* tris, int t, unsigned long long* zbuf,
                                              int width, int height) {
  const Vertex3 a = load_vertex(verts, tris[3 * t]);
  const Vertex3 b = load_vertex(verts, tris[3 * t + 1]);
  const Vertex3 c = load_vertex(verts, tris[3 * t + 2]);
  if (!(signed_area2(a, b, c) > 0.0f)) return;  // back-facing or degenerate: culled
  int x0, x1, y0, y1;
  pixel_span(fminf(fminf(a.x, b.x), c.x), fmaxf(fmaxf(a.x, b.x), c.x), width, &x0, &x1);
  pixel_span(fminf(fminf(a.y, b.y), c.y), fmaxf(fmaxf(a.y, b.y), c.y), height, &y0, &y1);
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      float w[3];
      if (!edge_weights(a, b, c, static_cast<float>(x), static_cast<float>(y), w)) continue;
      const float depth = interpolate(w, a.z, b.z, c.z);
      const unsigned long long key =
          (static_cast<unsigned long long>(orderable_depth(depth)) << 32) | static_cast<unsigned>(t);
      atomicMin(zbuf + static_cast<long long>(y) * width + x, key);
    }
  }
}

/// Resolve pass of output pixel (x, y).
__device__ __forceinline__ void resolve_pixel(const unsigned long long* zbuf, const float* target, const float* source,
                                              const int* tris, const unsigned long long* src_zbuf, float* map_x,
                                              float* map_y, uint8_t* mask, uint8_t* revealed, int width, int x,
                                              int y, int src_width, int src_height, float depth_tolerance) {
  const long long at = static_cast<long long>(y) * width + x;
  const unsigned long long key = zbuf[at];
  if (key == kRasterEmpty) {
    map_x[at] = kRasterUncovered;
    map_y[at] = kRasterUncovered;
    mask[at] = 0;
    revealed[at] = 0;
    return;
  }
  const int t = static_cast<int>(key & 0xffffffffULL);
  const int i0 = tris[3 * t], i1 = tris[3 * t + 1], i2 = tris[3 * t + 2];
  const Vertex3 a = load_vertex(target, i0), b = load_vertex(target, i1), c = load_vertex(target, i2);
  float w[3];
  edge_weights(a, b, c, static_cast<float>(x), static_cast<float>(y), w);  // covered: the depth pass said so
  const Vertex3 sa = load_vertex(source, i0), sb = load_vertex(source, i1), sc = load_vertex(source, i2);
  const float u = interpolate(w, sa.x, sb.x, sc.x);
  const float v = interpolate(w, sa.y, sb.y, sc.y);
  map_x[at] = u;
  map_y[at] = v;
  mask[at] = 1;
  bool hidden = !(signed_area2(sa, sb, sc) > 0.0f);  // back-facing in the source view
  if (!hidden && src_zbuf != nullptr) {
    const float fx = floorf(fadd_rn(u, 0.5f));
    const float fy = floorf(fadd_rn(v, 0.5f));
    if (!(fx >= 0.0f && fx < static_cast<float>(src_width) && fy >= 0.0f && fy < static_cast<float>(src_height))) {
      hidden = true;  // outside the source image
    } else {
      const unsigned long long src_key =
          src_zbuf[static_cast<long long>(static_cast<int>(fy)) * src_width + static_cast<int>(fx)];
      const int other = static_cast<int>(src_key & 0xffffffffULL);
      if (src_key != kRasterEmpty && other != t) {
        // Compare depths at the exact source point: the other triangle's plane, extrapolated there
        // (its edge weights may be negative), so a steep but continuous surface is not self-occluding.
        const Vertex3 oa = load_vertex(source, tris[3 * other]), ob = load_vertex(source, tris[3 * other + 1]),
                      oc = load_vertex(source, tris[3 * other + 2]);
        float ow[3];
        edge_weights(oa, ob, oc, u, v, ow);
        const float depth = interpolate(w, sa.z, sb.z, sc.z);
        hidden = depth > fadd_rn(interpolate(ow, oa.z, ob.z, oc.z), depth_tolerance);
      }
    }
  }
  revealed[at] = hidden ? 1 : 0;
}

}  // namespace reenact

// Both kernels are grid-stride loops, correct for any 1D launch: the GPU launches a thread per
// triangle / pixel, the CPU emulation one thread for everything (kernels.host: cpu=True), which
// spares it the per-emulated-thread cost (thread-local built-ins) that would dominate at 256x256.
extern "C" __global__ void reenact_raster_depth(const float* verts, const int* tris, int num_tris,
                                                unsigned long long* zbuf, int width, int height) {
  const int stride = static_cast<int>(gridDim.x * blockDim.x);
  for (int t = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); t < num_tris; t += stride) {
    reenact::draw_triangle(verts, tris, t, zbuf, width, height);
  }
}

extern "C" __global__ void reenact_raster_resolve(const unsigned long long* zbuf, const float* target,
                                                  const float* source, const int* tris,
                                                  const unsigned long long* src_zbuf, float* map_x, float* map_y,
                                                  uint8_t* mask, uint8_t* revealed, int width, int height,
                                                  int src_width, int src_height, float depth_tolerance) {
  const long long count = static_cast<long long>(width) * height;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int y = static_cast<int>(i / width);
    reenact::resolve_pixel(zbuf, target, source, tris, src_zbuf, map_x, map_y, mask, revealed, width,
                           static_cast<int>(i - static_cast<long long>(y) * width), y, src_width, src_height,
                           depth_tolerance);
  }
}
