// CPU emulation of the tiny slice of CUDA these kernels use, so that the SAME .cu files build with
// `g++ -x c++ -DREENACT_CPU_EMULATION` and can be tested on a machine without a GPU.
//
// What it provides when REENACT_CPU_EMULATION is defined:
//   * the qualifiers __global__, __device__, __host__, __forceinline__, __shared__ (as `static
//     thread_local`: one copy per OS thread, shared by all emulated threads of a block);
//   * dim3 / uint3 and the thread-local built-ins threadIdx, blockIdx, blockDim, gridDim;
//   * atomicAdd and atomicMin (64-bit) for the types the kernels use (plain read-modify-writes: one OS
//     thread runs a launch);
//   * reenact_emu::launch(grid, block, body): runs `body()` once per (block, thread), in order;
//   * reenact_emu::launch_sync(grid, block, body): the same, but every emulated thread of a block is a
//     fiber (ucontext) so that __syncthreads() is a real barrier. Kernels that use __syncthreads() or
//     shared memory must be launched this way; __syncthreads() outside it aborts.
//
// Nothing here is thread-safe across one launch; separate OS threads may run separate launches.
#pragma once

#ifdef REENACT_CPU_EMULATION

#include <ucontext.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  const unsigned long long old = *address;
  *address = old + value;
  return old;
}

inline int atomicAdd(int* address, int value) {
  const int old = *address;
  *address = old + value;
  return old;
}

inline unsigned long long atomicMin(unsigned long long* address, unsigned long long value) {
  const unsigned long long old = *address;
  if (value < old) *address = value;
  return old;
}

namespace reenact_emu {

/// Runs body() for every thread of every block (blocks and threads in x-fastest order).
template <class Body>
void launch(dim3 grid, dim3 block, Body&& body) {
  gridDim = grid;
  blockDim = block;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = uint3(bx, by, bz);
        for (unsigned tz = 0; tz < block.z; ++tz)
          for (unsigned ty = 0; ty < block.y; ++ty)
            for (unsigned tx = 0; tx < block.x; ++tx) {
              threadIdx = uint3(tx, ty, tz);
              body();
            }
      }
}

/// State of the fiber scheduler of the current OS thread (only set inside launch_sync).
struct FiberBlock {
  ucontext_t scheduler;
  std::vector<ucontext_t> contexts;
  std::vector<unsigned char> done;
  unsigned current = 0;
  void (*entry)(void*) = nullptr;
  void* payload = nullptr;
};

inline thread_local FiberBlock* current_block = nullptr;

inline void fiber_main() {
  FiberBlock* fb = current_block;
  fb->entry(fb->payload);
  fb->done[fb->current] = 1;
  // returning switches to uc_link (the scheduler)
}

// getcontext / swapcontext "return twice"; keeping them in small non-inlined functions keeps the
// callers' locals safe (and -Wclobbered quiet).
__attribute__((noinline)) inline void make_fiber(ucontext_t* ctx, ucontext_t* link, unsigned char* stack,
                                                 std::size_t stack_bytes) {
  getcontext(ctx);
  ctx->uc_stack.ss_sp = stack;
  ctx->uc_stack.ss_size = stack_bytes;
  ctx->uc_link = link;
  makecontext(ctx, fiber_main, 0);
}

__attribute__((noinline)) inline void switch_fiber(ucontext_t* from, ucontext_t* to) { swapcontext(from, to); }

/// Barrier: hands control back to the scheduler, which resumes this fiber once every live thread of
/// the block has arrived.
__attribute__((noinline)) inline void sync_threads() {
  FiberBlock* fb = current_block;
  if (fb == nullptr) {
    std::fprintf(stderr, "reenact cpu emulation: __syncthreads() outside launch_sync\n");
    std::abort();
  }
  switch_fiber(&fb->contexts[fb->current], &fb->scheduler);
}

/// Like launch(), but each thread of a block runs as a fiber so __syncthreads() works.
template <class Body>
void launch_sync(dim3 grid, dim3 block, Body&& body, std::size_t stack_bytes = 64 * 1024) {
  const unsigned n = block.x * block.y * block.z;
  FiberBlock fb;
  fb.contexts.resize(n);
  fb.done.resize(n);
  std::vector<unsigned char> stacks(static_cast<std::size_t>(n) * stack_bytes);
  using Fn = std::remove_reference_t<Body>;
  fb.entry = [](void* p) { (*static_cast<Fn*>(p))(); };
  fb.payload = const_cast<void*>(static_cast<const void*>(&body));
  FiberBlock* saved = current_block;
  current_block = &fb;
  gridDim = grid;
  blockDim = block;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = uint3(bx, by, bz);
        for (unsigned i = 0; i < n; ++i) {
          make_fiber(&fb.contexts[i], &fb.scheduler, stacks.data() + static_cast<std::size_t>(i) * stack_bytes,
                     stack_bytes);
          fb.done[i] = 0;
        }
        unsigned live = n;
        while (live > 0) {  // one round = every live thread runs up to its next barrier (or its end)
          for (unsigned i = 0; i < n; ++i) {
            if (fb.done[i]) continue;
            threadIdx = uint3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
            fb.current = i;
            switch_fiber(&fb.scheduler, &fb.contexts[i]);
            if (fb.done[i]) --live;
          }
        }
      }
  current_block = saved;
}

}  // namespace reenact_emu

inline void __syncthreads() { reenact_emu::sync_threads(); }

#endif  // REENACT_CPU_EMULATION
