// Declarations of every kernel (the library's ABI). The .cu files include this, so a definition
// whose parameters differ from its declaration fails to compile (C linkage cannot overload), and
// cpu_api.cpp includes it to build the CPU launch table. Conventions: see each definition.
#pragma once

#include "common.cuh"

extern "C" {
// preprocess.cu
__global__ void reenact_preprocess_f32(double m0, double m1, double m2, double m3, double m4, double m5,
                                       const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, float* out,
                                       int pitch0, int pitch1, int pitch2, int width, int height, int format,
                                       int matrix, int full_range, int size, int tensor_order,
                                       float scale, float bias);
__global__ void reenact_preprocess_f16(double m0, double m1, double m2, double m3, double m4, double m5,
                                       const uint8_t* p0, const uint8_t* p1, const uint8_t* p2,
                                       reenact::half_t* out, int pitch0, int pitch1, int pitch2, int width,
                                       int height, int format, int matrix, int full_range, int size, int tensor_order,
                                       float scale, float bias);
__global__ void reenact_to_packed(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, uint8_t* out, int pitch0,
                                  int pitch1, int pitch2, int width, int height, int format, int matrix,
                                  int full_range, int out_pitch, int out_format);

// postprocess.cu
__global__ void reenact_denormalize_f32(const float* in, uint8_t* out, int width, int height, int out_pitch,
                                        int out_format, int tensor_order, float offset, float gain);
__global__ void reenact_denormalize_f16(const reenact::half_t* in, uint8_t* out, int width, int height,
                                        int out_pitch, int out_format, int tensor_order, float offset,
                                        float gain);
__global__ void reenact_seam_stats_f32(double m0, double m1, double m2, double m3, double m4, double m5,
                                       const float* crop, const float* mask, const uint8_t* frame,
                                       unsigned long long* stats, int size, int frame_pitch, int frame_format,
                                       int x0, int y0, int width, int height, int tensor_order, float offset,
                                       float gain);
__global__ void reenact_seam_stats_f16(double m0, double m1, double m2, double m3, double m4, double m5,
                                       const reenact::half_t* crop, const float* mask, const uint8_t* frame,
                                       unsigned long long* stats, int size, int frame_pitch, int frame_format,
                                       int x0, int y0, int width, int height, int tensor_order, float offset,
                                       float gain);
__global__ void reenact_paste_f32(double m0, double m1, double m2, double m3, double m4, double m5,
                                  const float* crop, const float* mask, uint8_t* frame,
                                  const unsigned long long* stats, int size, int frame_pitch, int frame_format,
                                  int x0, int y0, int width, int height, int tensor_order, float offset,
                                  float gain);
__global__ void reenact_paste_f16(double m0, double m1, double m2, double m3, double m4, double m5,
                                  const reenact::half_t* crop, const float* mask, uint8_t* frame,
                                  const unsigned long long* stats, int size, int frame_pitch, int frame_format,
                                  int x0, int y0, int width, int height, int tensor_order, float offset,
                                  float gain);
__global__ void reenact_to_yuv420(const uint8_t* in, uint8_t* p0, uint8_t* p1, uint8_t* p2, int in_pitch,
                                  int in_format, int width, int height, int out_format, int pitch0, int pitch1,
                                  int pitch2, int matrix, int full_range);

// rasterize.cu
__global__ void reenact_raster_depth(const float* verts, const int* tris, int num_tris, unsigned long long* zbuf,
                                     int width, int height);
__global__ void reenact_raster_resolve(const unsigned long long* zbuf, const float* target, const float* source,
                                       const int* tris, const unsigned long long* src_zbuf, float* map_x,
                                       float* map_y, uint8_t* mask, uint8_t* revealed, int width, int height,
                                       int src_width, int src_height, float depth_tolerance);
}
