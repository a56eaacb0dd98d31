"""The kernel frame path: paste-back (and the generator's engines) on one device, one download per frame.

``device`` holds buffers and runs the kernels (host memory with the CPU build of the CUDA sources,
or a CUDA device with the GPU build), ``engines`` runs networks on those buffers in place
(onnxruntime IOBinding on the host, TensorRT on the GPU), ``generators`` turns a frame's inputs into
the generated crop tensor, ``compositor`` pastes it into the canvas and hands the frame to the
encoder, and ``graph`` captures a frame's device work once and replays it (a CUDA graph on a GPU).
"""
