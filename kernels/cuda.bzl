"""cuda_library: compiles .cu files with nvcc into a static library (DESIGN.md §8).

Only built with --config=cuda (--define=cuda=true); elsewhere the targets are incompatible and
`bazel build //...` skips them, so the default build needs no CUDA toolkit. CUDA headers stay
behind plain C++ headers (`hdrs`), so code that includes them compiles with g++ alone.
"""

CUDA_HOME = "/usr/local/cuda"

# Plain C++ targets that include CUDA runtime headers (the CUDA backend, GPU tests) need no
# copts: Bazel refuses -I / -isystem paths outside the execution root ("The include path
# '/usr/local/cuda/include' references a path outside of the execution root"), and this image
# links the toolkit's headers into /usr/local/include, one of the C++ toolchain's built-in
# include directories. A machine without those links needs them (`ln -s
# /usr/local/cuda/include/* /usr/local/include/`) or a local repository for the toolkit.

# sm_80 (A100) and sm_90 (H100/H200) machine code, plus compute_90 PTX for newer GPUs.
NVCC_ARCH_FLAGS = (
    "-gencode arch=compute_80,code=sm_80 " +
    "-gencode arch=compute_90,code=sm_90 " +
    "-gencode arch=compute_90,code=compute_90"
)

def cuda_compatible():
    return select({
        "//kernels:cuda_enabled": [],
        "//conditions:default": ["//kernels:cuda_build_requested"],
    })

def cuda_library(name, srcs, hdrs = [], cuda_hdrs = [], deps = [], **kwargs):
    """A cc_library whose objects nvcc compiles from `srcs` (.cu).

    Args:
      name: target name.
      srcs: .cu files.
      hdrs: plain C++ headers exposing the kernels' host API.
      cuda_hdrs: .cuh headers the .cu files include.
      deps: cc_library deps (headers only are visible to nvcc through -I.).
      **kwargs: passed to the cc_library.
    """
    archive = "lib%s_cuda.a" % name
    native.genrule(
        name = name + "_nvcc",
        srcs = srcs + hdrs + cuda_hdrs,
        outs = [archive],
        cmd = " && ".join([
            "OBJS=''",
            "for f in $(SRCS); do case $$f in *.cu) " +
            "o=$(@D)/$$(basename $$f .cu).%s.o; " % name +
            CUDA_HOME + "/bin/nvcc -std=c++17 -O3 -Xcompiler -fPIC " + NVCC_ARCH_FLAGS +
            " -I. -I$(GENDIR) -c $$f -o $$o && OBJS=\"$$OBJS $$o\";; esac; done",
            "ar rcs $@ $$OBJS",
        ]),
        target_compatible_with = cuda_compatible(),
        message = "nvcc " + name,
    )
    native.cc_library(
        name = name,
        srcs = [archive],
        hdrs = hdrs,
        deps = deps + ["//kernels:cudart"],
        target_compatible_with = cuda_compatible(),
        **kwargs
    )
