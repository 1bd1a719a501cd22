#include "normtrain/train/cuda_graph.hpp"

#include "normtrain/common/error.hpp"

// NORMTRAIN_CUDA_GRAPHS comes from src/train/CMakeLists.txt when LibTorch has its CUDA library;
// the CUDA runtime's headers must be there too.
#if defined(NORMTRAIN_CUDA_GRAPHS) && __has_include(<ATen/cuda/CUDAGraph.h>) && \
    __has_include(<cuda_runtime_api.h>)
#define NORMTRAIN_HAS_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/Event.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#else
#define NORMTRAIN_HAS_CUDA_GRAPHS 0
#endif

namespace normtrain {

#if NORMTRAIN_HAS_CUDA_GRAPHS

bool cuda_graphs_built() {
  return true;
}

struct CudaStreamScope::State {
  State(c10::cuda::CUDAStream outer_stream, c10::cuda::CUDAStream own_stream)
      : outer(outer_stream), own(own_stream), guard(own_stream) {}
  c10::cuda::CUDAStream outer;
  c10::cuda::CUDAStream own;
  c10::cuda::CUDAStreamGuard guard;
};

CudaStreamScope::CudaStreamScope(int device_index) {
  const auto device = static_cast<c10::DeviceIndex>(device_index);
  const c10::cuda::CUDAStream outer = c10::cuda::getCurrentCUDAStream(device);
  const c10::cuda::CUDAStream own = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device);
  c10::Event queued_before(c10::DeviceType::CUDA);
  queued_before.record(outer);
  queued_before.block(own);
  state_ = std::make_unique<State>(outer, own);
}

CudaStreamScope::~CudaStreamScope() {
  c10::Event queued_within(c10::DeviceType::CUDA);
  queued_within.record(state_->own);
  const c10::cuda::CUDAStream outer = state_->outer;
  state_.reset();  // the guard makes `outer` current again
  queued_within.block(outer);
}

struct CudaGraph::State {
  at::cuda::CUDAGraph graph;
};

void CudaGraph::capture(const std::function<void()>& work) {
  state_.reset();
  auto fresh = std::make_unique<State>();
  fresh->graph.capture_begin();
  try {
    work();
  } catch (...) {
    // End the capture, so that the stream and the allocator leave capture mode; what it
    // recorded is thrown away with the graph.
    try {
      fresh->graph.capture_end();
    } catch (...) {
    }
    throw;
  }
  fresh->graph.capture_end();
  state_ = std::move(fresh);
}

void CudaGraph::replay() {
  if (!state_) throw RuntimeError("CudaGraph::replay: nothing was captured");
  state_->graph.replay();
}

#else  // no CUDA graphs in this build

namespace {
[[noreturn]] void not_built() {
  throw RuntimeError(
      "this normtrain was built without CUDA graphs: build it against a LibTorch with CUDA "
      "(see README), or use --cuda-graphs off");
}
}  // namespace

bool cuda_graphs_built() {
  return false;
}

struct CudaStreamScope::State {};
CudaStreamScope::CudaStreamScope(int /*device_index*/) {
  not_built();
}
CudaStreamScope::~CudaStreamScope() = default;

struct CudaGraph::State {};
void CudaGraph::capture(const std::function<void()>& /*work*/) {
  not_built();
}
void CudaGraph::replay() {
  not_built();
}

#endif

CudaGraph::CudaGraph() = default;
CudaGraph::~CudaGraph() = default;
CudaGraph::CudaGraph(CudaGraph&&) noexcept = default;
CudaGraph& CudaGraph::operator=(CudaGraph&&) noexcept = default;

}  // namespace normtrain
