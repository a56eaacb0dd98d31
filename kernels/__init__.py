"""CUDA pre/post-processing kernels (kernels/cuda) with CPU twins.

* ``kernels.reference``: NumPy references (what the CPU pipeline uses; checked against OpenCV).
* ``kernels.cpu_build``: the same .cu sources built for the CPU with a grid emulation, via ctypes.
* ``kernels.nvcc_check``: compiles the sources with nvcc for sm_75..sm_90, warnings as errors.
* ``kernels.gpu``: pycuda launch glue for the GPU path (optional dependency).
* ``kernels.host``: launch parameters shared by the CPU and GPU paths.
"""

from kernels.frames import BT601_LIMITED, Colour, Frame

__all__ = ["BT601_LIMITED", "Colour", "Frame"]
